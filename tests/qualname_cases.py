"""Tricky code objects for tests/test_qualname.py; loaded fresh (new code objects) per test.

Each case calls ``hit(tag)`` from inside the code object under test, so the record holds that
code and its live frame. On 3.12+ a ``hit`` inside a list/set/dict comprehension records the
*enclosing* code instead (PEP 709 inlined the comprehension); the test's table says so.

``RESOLVE`` and ``TOUCHED_LIMIT`` may be injected into the globals before the body runs:
``RESOLVE(code, frame)`` is then called inside every first ``hit`` of a tag, while the frame
is live, and its answer kept in the record.
"""
# No ``from __future__ import annotations`` here on purpose: it changes nothing for
# qualnames, and the module must stay plain code that every interpreter compiles alike.
import functools
import sys

RESOLVE = globals().get("RESOLVE")
#: tag -> (code, frame, answer of RESOLVE or None, user attribute reads during RESOLVE)
RECORDS = {}
#: Every user-level attribute read, ``==``, ``repr`` or ``__class__`` of the trap objects.
TOUCHED = []


def hit(tag):
    frame = sys._getframe(1)
    if tag not in RECORDS:
        answer = None
        before = len(TOUCHED)
        if RESOLVE is not None:
            answer = RESOLVE(frame.f_code, frame)
        RECORDS[tag] = (frame.f_code, frame, answer, TOUCHED[before:])
    return True


def drive(coroutine):
    """Run a coroutine that never really suspends, without an event loop."""
    try:
        while True:
            coroutine.send(None)
    except StopIteration as stop:
        return stop.value


# --- plain functions and closures ---------------------------------------------------------------

def top_func():
    hit("top_func")


def make_closure():
    x = 1

    def closure_inner():
        hit("make_closure.closure_inner")
        return x
    return closure_inner


def outer3():
    def mid3():
        hit("outer3.mid3")

        def inner3():
            hit("outer3.mid3.inner3")
        return inner3
    return mid3


def shadow():
    def top_func():  # same name as the module's top_func: globals[co_name] is another code
        hit("shadow.top_func")
    return top_func


def make_adder(n):
    def adder(x):
        hit("make_adder.adder")
        return x + n
    return adder


ADD_ONE = make_adder(1)


def recursive(n):
    hit("recursive")
    if n:
        recursive(n - 1)


# --- one class with methods of every kind -------------------------------------------------------

class Plain:
    hit("Plain")
    cls_lambda = lambda self: hit("Plain.lambda")  # noqa: E731
    squares = [hit("Plain.listcomp") for _ in range(1)]
    total = sum(1 for _ in range(1) if hit("Plain.genexpr"))

    def __init__(self):
        hit("Plain.__init__")

    def method(self):
        hit("Plain.method")
        self.__private_m()

    def __private_m(self):
        hit("Plain.__private_m")

        def __inner():
            hit("Plain.__private_m.__inner")
        __inner()

    @staticmethod
    def static_m():
        hit("Plain.static_m")

    @classmethod
    def class_m(cls):
        hit("Plain.class_m")

    @property
    def prop(self):
        hit("Plain.prop.getter")
        return 1

    @prop.setter
    def prop(self, value):
        hit("Plain.prop.setter")

    @prop.deleter
    def prop(self):
        hit("Plain.prop.deleter")

    def method_with_lambda(self):
        f = lambda: hit("Plain.method_with_lambda.lambda")  # noqa: E731
        f()

    def top_func(self):  # the name of a module function again
        hit("Plain.top_func")

    def __init_subclass__(cls, **kwargs):
        hit("Plain.__init_subclass__")

    class Nested:
        hit("Plain.Nested")

        def nested_method(self):
            hit("Plain.Nested.nested_method")

        class Deeper:
            hit("Plain.Nested.Deeper")

            def deep_m(self):
                hit("Plain.Nested.Deeper.deep_m")

    class __Hidden:
        hit("Plain.__Hidden")

        def __hidden_m(self):
            hit("Plain.__Hidden.__hidden_m")

        def call(self):
            self.__hidden_m()

    def hidden(self):
        return self.__Hidden()


class SubPlain(Plain):
    pass


def _make_attached():
    def attached(self):
        hit("_make_attached.attached")
    return attached


Plain.attached = _make_attached()


# --- classes inside functions -------------------------------------------------------------------

def class_factory():
    class Local:
        hit("class_factory.Local")

        def local_m(self):
            hit("class_factory.Local.local_m")

        @staticmethod
        def local_static():
            hit("class_factory.Local.local_static")

        @property
        def local_prop(self):
            hit("class_factory.Local.local_prop")
            return 1
    return Local


def deep_factory():
    class Keeper:
        def keeper_m(self):
            def keeper_inner():
                hit("deep_factory.Keeper.keeper_m.keeper_inner")
            return keeper_inner
    return Keeper


# --- decorators ---------------------------------------------------------------------------------

def deco_plain(fn):
    def wrapper_plain(*args, **kwargs):
        hit("deco_plain.wrapper_plain")
        return fn(*args, **kwargs)
    return wrapper_plain


def deco_wraps(fn):
    @functools.wraps(fn)
    def wrapper_wraps(*args, **kwargs):
        hit("deco_wraps.wrapper_wraps")
        return fn(*args, **kwargs)
    return wrapper_wraps


def repeat(times):
    def deco_repeat(fn):
        @functools.wraps(fn)
        def repeat_wrapper(*args, **kwargs):
            hit("repeat.deco_repeat.repeat_wrapper")
            result = None
            for _ in range(times):
                result = fn(*args, **kwargs)
            return result
        return repeat_wrapper
    return deco_repeat


@deco_plain
def decorated_plain():
    hit("decorated_plain")


@deco_wraps
def decorated_wraps():
    hit("decorated_wraps")


@repeat(2)
def decorated_repeat():
    hit("decorated_repeat")


@deco_wraps
@deco_plain
def double_decorated():
    hit("double_decorated")


class Decorated:
    @deco_wraps
    def wrapped_method(self):
        hit("Decorated.wrapped_method")

    @deco_plain
    def plain_wrapped_method(self):
        hit("Decorated.plain_wrapped_method")

    @functools.lru_cache(maxsize=None)
    def cached_method(self):
        hit("Decorated.cached_method")
        return 1


def local_decorators():
    """A wraps() decorator and the class it decorates, both local to a function."""
    def local_deco(fn):
        @functools.wraps(fn)
        def local_wrapper(self):
            hit("local_decorators.local_deco.local_wrapper")
            return fn(self)
        return local_wrapper

    class Decorated:
        @local_deco
        def local_target(self):
            hit("local_decorators.Decorated.local_target")
    return Decorated


def class_deco(cls):
    class Wrapped(cls):
        hit("class_deco.Wrapped")

        def wrapped_extra(self):
            hit("class_deco.Wrapped.wrapped_extra")
    return Wrapped


@class_deco
class BaseForDeco:
    def base_m(self):
        hit("BaseForDeco.base_m")


def _make_partial_target():
    def partial_inner(a):
        hit("_make_partial_target.partial_inner")
    return partial_inner


PARTIAL = functools.partial(_make_partial_target(), 1)


# --- comprehensions, generator expressions, lambdas ---------------------------------------------

def comps():
    [hit("comps.listcomp") for _ in range(1)]
    {hit("comps.setcomp") for _ in range(1)}
    {hit("comps.dictcomp"): 1 for _ in range(1)}
    list(hit("comps.genexpr") for _ in range(1))
    [[hit("comps.listcomp.listcomp") for _ in range(1)] for _ in range(1)]
    [list(hit("comps.listcomp.genexpr") for _ in range(1)) for _ in range(1)]
    list([hit("comps.genexpr.listcomp") for _ in range(1)] for _ in range(1))
    list(list(hit("comps.genexpr.genexpr") for _ in range(1)) for _ in range(1))
    [(lambda: hit("comps.listcomp.lambda"))() for _ in range(1)]
    list((lambda: hit("comps.genexpr.lambda"))() for _ in range(1))


def make_genexpr():
    return (hit("make_genexpr.genexpr") for _ in range(1))


def lambdas():
    outer = lambda: (hit("lambdas.lambda"), lambda: hit("lambdas.lambda.lambda"))[1]  # noqa
    outer()()


MOD_LAMBDA = lambda: hit("MOD_LAMBDA")  # noqa: E731
MOD_LAMBDA2 = lambda: lambda: hit("MOD_LAMBDA2.lambda")  # noqa: E731
MOD_LIST = [hit("module.listcomp") for _ in range(1)]
MOD_SUM = sum(1 for _ in range(1) if hit("module.genexpr"))


# --- global declarations, registries, objects only the heap knows ----------------------------

def declares_global():
    global made_global, GlobalClass

    def made_global():
        hit("made_global")

    class GlobalClass:
        hit("GlobalClass")

        def global_m(self):
            hit("GlobalClass.global_m")


REGISTRY = {}


def register(fn):
    REGISTRY[fn.__name__] = fn  # returns None: the name is bound to None in the module


@register
def registered_only():
    hit("registered_only")


def make_registered():
    def reg_inner():
        hit("make_registered.reg_inner")
    REGISTRY["reg_inner"] = reg_inner


make_registered()


def _gc_factory():
    def gc_only_inner():
        hit("_gc_factory.gc_only_inner")
    return gc_only_inner


def _attr_factory():
    def attr_inner():
        hit("_attr_factory.attr_inner")
    return attr_inner


class _Holder(object):
    pass


# Both factories are deleted, like os._createenviron: an object's attribute (found by the
# index, one level into instances) or a list inside it (found only on the heap) keeps each.
HOLDER = _Holder()
HOLDER.callback = _attr_factory()
HOLDER.callbacks = [_gc_factory()]
del _gc_factory, _attr_factory


# --- metaclasses and super() ---------------------------------------------------------------------

class Meta(type):
    def __new__(mcs, name, bases, namespace):
        hit("Meta.__new__")
        return super().__new__(mcs, name, bases, namespace)

    def __call__(cls, *args, **kwargs):
        hit("Meta.__call__")
        return super().__call__(*args, **kwargs)


class WithMeta(metaclass=Meta):
    hit("WithMeta")

    def __init__(self):
        hit("WithMeta.__init__")


def meta_factory():
    class LocalMeta(type):
        def __call__(cls, *args, **kwargs):
            hit("meta_factory.LocalMeta.__call__")
            return super().__call__(*args, **kwargs)

    class UsesLocalMeta(metaclass=LocalMeta):
        pass
    return UsesLocalMeta


class Animal:
    def speak(self):
        hit("Animal.speak")


class Dog(Animal):
    def speak(self):
        hit("Dog.speak")
        super().speak()


def super_factory():
    class LocalBase:
        def talk(self):
            hit("super_factory.LocalBase.talk")

    class LocalChild(LocalBase):
        def talk(self):
            hit("super_factory.LocalChild.talk")
            super().talk()
    return LocalChild


# --- generators, coroutines, async generators ---------------------------------------------------

def gen_top():
    hit("gen_top")
    yield 1


class Gens:
    def gen_method(self):
        hit("Gens.gen_method")
        yield 1


async def async_top():
    hit("async_top")
    await async_outer()


async def async_outer():
    async def async_inner():
        hit("async_outer.async_inner")
    await async_inner()


async def agen_top():
    hit("agen_top")
    yield 1


class AsyncThings:
    async def amethod(self):
        hit("AsyncThings.amethod")

    async def agen_method(self):
        hit("AsyncThings.agen_method")
        yield 1

    async def acomp(self):
        return [x async for x in self.agen_method() if hit("AsyncThings.acomp.listcomp")]


def async_factory():
    class LocalAsync:
        async def local_amethod(self):
            hit("async_factory.LocalAsync.local_amethod")
    return LocalAsync


async def consume_agen():
    async for _ in agen_top():
        pass


# --- eval and exec ------------------------------------------------------------------------------

EVAL_LAMBDA = eval("lambda: hit('eval_lambda')")
EXEC_NS = {"hit": hit}
exec(compile('''
def exec_func():
    hit("exec_func")

    def exec_inner():
        hit("exec_func.exec_inner")
    return exec_inner


class ExecClass:
    hit("ExecClass")

    def exec_m(self):
        hit("ExecClass.exec_m")


hit("exec_module")
''', "<qualname-exec-cases>", "exec"), EXEC_NS)
exec("def exec_in_globals():\n    hit('exec_in_globals')\n")


# --- objects that must never be touched by the resolver ----------------------------------------

class TrapMeta(type):
    def __getattribute__(cls, name):
        TOUCHED.append(("meta-getattribute", name))
        return super().__getattribute__(name)


class Trap(metaclass=TrapMeta):
    def __getattribute__(self, name):
        TOUCHED.append(("getattribute", name))
        return object.__getattribute__(self, name)

    def __getattr__(self, name):
        TOUCHED.append(("getattr", name))
        raise AttributeError(name)

    def __eq__(self, other):
        TOUCHED.append(("eq",))
        return False

    __hash__ = object.__hash__

    def __repr__(self):
        TOUCHED.append(("repr",))
        return "<Trap>"

    @property
    def __class__(self):
        TOUCHED.append(("__class__",))
        return Trap

    def trap_method(self):
        hit("Trap.trap_method")

    @classmethod
    def trap_classmethod(cls):
        hit("Trap.trap_classmethod")


TRAP = Trap()
REGISTRY["trap"] = TRAP


class DictTrap(object):
    """Its ``__dict__`` is a Python property: reading it would run user code."""

    @property
    def __dict__(self):
        TOUCHED.append(("__dict__",))
        return {}


DICT_TRAP = DictTrap()


def _slot_factory():
    def slot_inner():
        hit("_slot_factory.slot_inner")
    return slot_inner


class Slotted(object):
    __slots__ = ("callback", "unset")

    def __init__(self, callback):
        self.callback = callback


SLOTTED = Slotted(_slot_factory())  # reachable only through a __slots__ attribute
del _slot_factory


# --- the driver: everything not already run while the module body executed ----------------------

def run_all():
    top_func()
    make_closure()()
    outer3()()()
    shadow()()
    ADD_ONE(1)
    recursive(2)

    p = Plain()
    p.method()
    p.static_m()
    Plain.class_m()
    p.prop
    p.prop = 2
    del p.prop
    p.method_with_lambda()
    p.cls_lambda()
    p.top_func()
    p.attached()
    Plain.Nested().nested_method()
    Plain.Nested.Deeper().deep_m()
    p.hidden().call()

    local = class_factory()
    local().local_m()
    local.local_static()
    local().local_prop
    deep_factory()().keeper_m()()

    decorated_plain()
    decorated_wraps()
    decorated_repeat()
    double_decorated()
    d = Decorated()
    d.wrapped_method()
    d.plain_wrapped_method()
    d.cached_method()
    local_decorators()().local_target()
    BaseForDeco().base_m()
    BaseForDeco().wrapped_extra()
    PARTIAL()

    comps()
    list(make_genexpr())
    lambdas()
    MOD_LAMBDA()
    MOD_LAMBDA2()()

    declares_global()
    made_global()
    GlobalClass().global_m()
    REGISTRY["registered_only"]()
    REGISTRY["reg_inner"]()
    HOLDER.callback()
    HOLDER.callbacks[0]()

    WithMeta()
    meta_factory()()
    Dog().speak()
    super_factory()().talk()

    list(gen_top())
    list(Gens().gen_method())
    drive(async_top())
    drive(consume_agen())
    things = AsyncThings()
    drive(things.amethod())
    drive(things.acomp())
    drive(async_factory()().local_amethod())

    EVAL_LAMBDA()
    EXEC_NS["exec_func"]()()
    EXEC_NS["ExecClass"]().exec_m()
    exec_in_globals()  # noqa: F821 - defined by exec() above

    SLOTTED.callback()
    TRAP.trap_method()
    Trap.trap_classmethod()
