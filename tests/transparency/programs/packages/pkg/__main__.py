"""``-m pkg``: relative imports in a package's __main__ (``from . import``, ``from .sub
import``, ``from .helper import``), and the module's globals as python sets them."""
from . import helper
from .helper import twice
from .sub import mod_for_import

print("main", __name__, __package__, __spec__.name, helper.__name__, twice(21))
print("imported", mod_for_import.VALUE, mod_for_import.__package__)
