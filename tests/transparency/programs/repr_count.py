"""Program objects whose ``__repr__`` counts its calls, passed as arguments, returned, kept
in locals, in a list and as a global: the program never calls repr itself, so the count
stays 0 (``repr calls 0``)."""


class Counted:
    calls = 0

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        Counted.calls += 1
        return "Counted(%s)" % self.name


def keep(item, others):
    local = item
    together = [local] + others
    return together


glob = Counted("global")
result = keep(Counted("arg"), [Counted("in a list")])
for element in result:
    name = element.name
print("repr calls", Counted.calls)
