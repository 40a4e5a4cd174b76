# -*- coding: no-such-codec -*-
"""A script whose coding cookie names no codec: python's ``SyntaxError: encoding problem``
on stderr and exit status 1; nothing of it runs."""
print("never printed")
