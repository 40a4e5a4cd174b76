"""Decorators with and without functools.wraps; class decorators; property,
staticmethod and classmethod."""
import functools


def plain_deco(fn):
    def wrapper(*args):
        return fn(*args)
    return wrapper


def wraps_deco(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)
    return wrapper


def register(cls):
    cls.registered = True
    return cls


@plain_deco
def f1(x):
    return x + 1


@wraps_deco
def f2(x):
    return x + 2


@register
class Box:
    def __init__(self, v):
        self._v = v

    @property
    def value(self):
        return self._v

    @value.setter
    def value(self, v):
        self._v = v

    @staticmethod
    def make(v):
        return Box(v)

    @classmethod
    def build(cls, v):
        return cls.make(v)

    @wraps_deco
    def method(self):
        return self._v


def main():
    b = Box.build(3)
    b.value = b.value + 1
    return f1(1), f2(1), b.value, b.method(), Box.registered
