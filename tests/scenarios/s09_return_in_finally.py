"""Return inside try/finally (line attribution differs on 3.8, 3.9, 3.10+)."""


def ret_in_try(x):
    try:
        return helper(x)
    finally:
        x += 1


def helper(x):
    return x


def ret_in_try_raising():
    try:
        return 1 // 0
    finally:
        pass


def main():
    a = ret_in_try(1)
    try:
        ret_in_try_raising()
    except ZeroDivisionError:
        pass
    return a
