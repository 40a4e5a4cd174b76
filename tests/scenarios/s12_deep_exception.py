"""An exception raised 3+ frames deep, caught N frames up."""


def level3():
    raise LookupError("deep")


def level2():
    return level3()


def level1():
    try:
        return level2()
    finally:
        pass


def catcher():
    try:
        level1()
    except LookupError as exc:
        print("caught", exc)
        return "caught %s" % exc


def main():
    return catcher()
