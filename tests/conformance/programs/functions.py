"""Plain functions: positional, keyword, default, *args, **kwargs, nested calls."""


def add(a, b):
    result = a + b
    return result


def scale(value, factor=2, *, offset=0):
    return value * factor + offset


def collect(first, *rest, **options):
    items = [first]
    items.extend(rest)
    if options.get("reverse"):
        items.reverse()
    return items


def pipeline(x):
    y = add(x, 1)
    z = scale(y, factor=3, offset=1)
    return collect(x, y, z, reverse=True)


def nothing():
    pass


print(pipeline(4))
print(add("a", "b"), scale(2.5), collect(1))
nothing()
