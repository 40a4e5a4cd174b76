"""A Python callback called from C raises (sorted key raises): the exception
crosses the C frame into the caller."""


def bad_key(v):
    if v == 2:
        raise TypeError("no key for %d" % v)
    return v


def sort_it():
    return sorted([1, 2, 3], key=bad_key)


def main():
    try:
        sort_it()
    except TypeError as exc:
        return "caught %s" % exc
