"""Closures, nonlocal, decorators, lambdas and callbacks from builtins."""


def make_counter(start):
    count = start

    def increment(step=1):
        nonlocal count
        count += step
        return count

    return increment


def logged(func):
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        return result

    return wrapper


@logged
def multiply(a, b):
    return a * b


def compose(f, g):
    return lambda x: f(g(x))


counter = make_counter(10)
counter()
counter(5)
print(counter(), multiply(6, 7))
double_then_inc = compose(lambda v: v + 1, lambda v: v * 2)
print(double_then_inc(4))
words = ["pear", "fig", "banana"]
print(sorted(words, key=lambda w: (len(w), w)))
print(list(map(make_counter(0), [1, 2, 3])))
namespace = {}
exec("def made(x):\n    return x + 1\n", namespace)  # code with no file: <string>
print(namespace["made"](1))
