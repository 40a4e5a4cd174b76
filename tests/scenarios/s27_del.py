"""__del__ triggered by del, by rebinding, and by the garbage collector."""
import gc


class Dropped:
    def __del__(self):
        finalised.append("dropped")


class Rebound:
    def __del__(self):
        finalised.append("rebound")


class Cyclic:
    def __init__(self):
        self.me = self

    def __del__(self):
        finalised.append("cyclic")


finalised = []


def main():
    # Only the gc.collect() below may finalise the cycle: an automatic collection can run
    # while the recorder handles an event, where nothing is traced, whenever the recorder's
    # own allocations reach the collector's threshold there.
    gc.disable()
    x = Dropped()
    del x
    y = Rebound()
    y = None
    z = Cyclic()
    z = None
    gc.collect()
    gc.enable()
    return sorted(finalised), y
