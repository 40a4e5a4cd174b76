"""recorder.qualname: 3.11's ``co_qualname`` on every interpreter, cached, never raising.

The cases live in tests/qualname_cases.py; every test loads a fresh copy of it (new code
objects, nothing cached) and checks the answer for each tagged code object against EXPECTED,
a table of true 3.11 ``co_qualname`` values. On 3.11+ the table itself is checked against
``co_qualname``, so it cannot drift.
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from recorder import env
from recorder import qualname as qn
from recorder.qualname import qualname_of

CASES_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qualname_cases.py")
EXEC_FILENAMES = {"<qualname-exec-cases>", "<string>"}
_serial = itertools.count()

#: tag -> 3.11's co_qualname of the code that calls ``hit(tag)``.
EXPECTED: Dict[str, str] = {
    # plain functions and closures
    "top_func": "top_func",
    "make_closure.closure_inner": "make_closure.<locals>.closure_inner",
    "outer3.mid3": "outer3.<locals>.mid3",
    "outer3.mid3.inner3": "outer3.<locals>.mid3.<locals>.inner3",
    "shadow.top_func": "shadow.<locals>.top_func",
    "make_adder.adder": "make_adder.<locals>.adder",
    "recursive": "recursive",
    # a class with methods of every kind
    "Plain": "Plain",
    "Plain.lambda": "Plain.<lambda>",
    "Plain.listcomp": "Plain.<listcomp>",
    "Plain.genexpr": "Plain.<genexpr>",
    "Plain.__init__": "Plain.__init__",
    "Plain.method": "Plain.method",
    "Plain.__private_m": "Plain.__private_m",
    "Plain.__private_m.__inner": "Plain.__private_m.<locals>.__inner",
    "Plain.static_m": "Plain.static_m",
    "Plain.class_m": "Plain.class_m",
    "Plain.prop.getter": "Plain.prop",
    "Plain.prop.setter": "Plain.prop",
    "Plain.prop.deleter": "Plain.prop",
    "Plain.method_with_lambda.lambda": "Plain.method_with_lambda.<locals>.<lambda>",
    "Plain.top_func": "Plain.top_func",
    "Plain.__init_subclass__": "Plain.__init_subclass__",
    "Plain.Nested": "Plain.Nested",
    "Plain.Nested.nested_method": "Plain.Nested.nested_method",
    "Plain.Nested.Deeper": "Plain.Nested.Deeper",
    "Plain.Nested.Deeper.deep_m": "Plain.Nested.Deeper.deep_m",
    "Plain.__Hidden": "Plain.__Hidden",
    "Plain.__Hidden.__hidden_m": "Plain.__Hidden.__hidden_m",
    "_make_attached.attached": "_make_attached.<locals>.attached",
    # classes inside functions
    "class_factory.Local": "class_factory.<locals>.Local",
    "class_factory.Local.local_m": "class_factory.<locals>.Local.local_m",
    "class_factory.Local.local_static": "class_factory.<locals>.Local.local_static",
    "class_factory.Local.local_prop": "class_factory.<locals>.Local.local_prop",
    "deep_factory.Keeper.keeper_m.keeper_inner":
        "deep_factory.<locals>.Keeper.keeper_m.<locals>.keeper_inner",
    # decorators
    "deco_plain.wrapper_plain": "deco_plain.<locals>.wrapper_plain",
    "deco_wraps.wrapper_wraps": "deco_wraps.<locals>.wrapper_wraps",
    "repeat.deco_repeat.repeat_wrapper": "repeat.<locals>.deco_repeat.<locals>.repeat_wrapper",
    "decorated_plain": "decorated_plain",
    "decorated_wraps": "decorated_wraps",
    "decorated_repeat": "decorated_repeat",
    "double_decorated": "double_decorated",
    "Decorated.wrapped_method": "Decorated.wrapped_method",
    "Decorated.plain_wrapped_method": "Decorated.plain_wrapped_method",
    "Decorated.cached_method": "Decorated.cached_method",
    "local_decorators.local_deco.local_wrapper":
        "local_decorators.<locals>.local_deco.<locals>.local_wrapper",
    "local_decorators.Decorated.local_target": "local_decorators.<locals>.Decorated.local_target",
    "class_deco.Wrapped": "class_deco.<locals>.Wrapped",
    "class_deco.Wrapped.wrapped_extra": "class_deco.<locals>.Wrapped.wrapped_extra",
    "BaseForDeco.base_m": "BaseForDeco.base_m",
    "_make_partial_target.partial_inner": "_make_partial_target.<locals>.partial_inner",
    # comprehensions, generator expressions, lambdas
    "comps.listcomp": "comps.<locals>.<listcomp>",
    "comps.setcomp": "comps.<locals>.<setcomp>",
    "comps.dictcomp": "comps.<locals>.<dictcomp>",
    "comps.genexpr": "comps.<locals>.<genexpr>",
    "comps.listcomp.listcomp": "comps.<locals>.<listcomp>.<listcomp>",
    "comps.listcomp.genexpr": "comps.<locals>.<listcomp>.<genexpr>",
    "comps.genexpr.listcomp": "comps.<locals>.<genexpr>.<listcomp>",
    "comps.genexpr.genexpr": "comps.<locals>.<genexpr>.<genexpr>",
    "comps.listcomp.lambda": "comps.<locals>.<listcomp>.<lambda>",
    "comps.genexpr.lambda": "comps.<locals>.<genexpr>.<lambda>",
    "make_genexpr.genexpr": "make_genexpr.<locals>.<genexpr>",
    "lambdas.lambda": "lambdas.<locals>.<lambda>",
    "lambdas.lambda.lambda": "lambdas.<locals>.<lambda>.<locals>.<lambda>",
    "MOD_LAMBDA": "<lambda>",
    "MOD_LAMBDA2.lambda": "<lambda>.<locals>.<lambda>",
    "module.listcomp": "<listcomp>",
    "module.genexpr": "<genexpr>",
    # global declarations, registries, heap-only functions
    "made_global": "made_global",
    "GlobalClass": "GlobalClass",
    "GlobalClass.global_m": "GlobalClass.global_m",
    "registered_only": "registered_only",
    "make_registered.reg_inner": "make_registered.<locals>.reg_inner",
    "_gc_factory.gc_only_inner": "_gc_factory.<locals>.gc_only_inner",
    "_attr_factory.attr_inner": "_attr_factory.<locals>.attr_inner",
    "_slot_factory.slot_inner": "_slot_factory.<locals>.slot_inner",
    # metaclasses and super()
    "Meta.__new__": "Meta.__new__",
    "Meta.__call__": "Meta.__call__",
    "WithMeta": "WithMeta",
    "WithMeta.__init__": "WithMeta.__init__",
    "meta_factory.LocalMeta.__call__": "meta_factory.<locals>.LocalMeta.__call__",
    "Animal.speak": "Animal.speak",
    "Dog.speak": "Dog.speak",
    "super_factory.LocalBase.talk": "super_factory.<locals>.LocalBase.talk",
    "super_factory.LocalChild.talk": "super_factory.<locals>.LocalChild.talk",
    # generators, coroutines, async generators
    "gen_top": "gen_top",
    "Gens.gen_method": "Gens.gen_method",
    "async_top": "async_top",
    "async_outer.async_inner": "async_outer.<locals>.async_inner",
    "agen_top": "agen_top",
    "AsyncThings.amethod": "AsyncThings.amethod",
    "AsyncThings.agen_method": "AsyncThings.agen_method",
    "AsyncThings.acomp.listcomp": "AsyncThings.acomp.<locals>.<listcomp>",
    "async_factory.LocalAsync.local_amethod": "async_factory.<locals>.LocalAsync.local_amethod",
    # eval and exec
    "eval_lambda": "<lambda>",
    "exec_func": "exec_func",
    "exec_func.exec_inner": "exec_func.<locals>.exec_inner",
    "ExecClass": "ExecClass",
    "ExecClass.exec_m": "ExecClass.exec_m",
    "exec_module": "<module>",
    "exec_in_globals": "exec_in_globals",
    # objects with hostile attribute access
    "Trap.trap_method": "Trap.trap_method",
    "Trap.trap_classmethod": "Trap.trap_classmethod",
}

#: 3.12+ (PEP 709): list/set/dict comprehensions are inlined, so ``hit`` inside one records the
#: enclosing code, and a code defined inside one takes the enclosing scope as its parent.
INLINED: Dict[str, str] = {
    "Plain.listcomp": "Plain",
    "comps.listcomp": "comps",
    "comps.setcomp": "comps",
    "comps.dictcomp": "comps",
    "comps.listcomp.listcomp": "comps",
    "comps.listcomp.genexpr": "comps.<locals>.<genexpr>",
    "comps.genexpr.listcomp": "comps.<locals>.<genexpr>",
    "comps.listcomp.lambda": "comps.<locals>.<lambda>",
    "module.listcomp": "<module>",
    "AsyncThings.acomp.listcomp": "AsyncThings.acomp",
}


def expected(tag: str) -> str:
    if env.INLINED_COMPREHENSIONS and tag in INLINED:
        return INLINED[tag]
    return EXPECTED[tag]


def load_cases(resolve: Optional[Callable[[types.CodeType, types.FrameType], Any]] = None,
               ) -> types.ModuleType:
    """A fresh copy of the cases module (new code objects), run to the end."""
    name = "qualname_cases_%d" % next(_serial)
    spec = importlib.util.spec_from_file_location(name, CASES_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if resolve is not None:
        module.RESOLVE = resolve  # type: ignore[attr-defined]
    sys.modules[name] = module  # dataclass-like lookups and the frame-less path need it
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.run_all()  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fresh() -> Iterator[None]:
    qn._reset()
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("qualname_cases_"):
            del sys.modules[name]
    qn._reset()


def mismatches(module: types.ModuleType) -> List[Tuple[str, str, Any]]:
    return [(tag, expected(tag), answer)
            for tag, (_code, _frame, answer, _touched) in sorted(module.RECORDS.items())
            if answer != expected(tag)]


def test_every_case_ran_and_count(fresh: None) -> None:
    module = load_cases()
    assert set(module.RECORDS) == set(EXPECTED)
    codes = {id(code) for code, _f, _a, _t in module.RECORDS.values()}
    # 103 cases (an earlier corpus had 52); 3.12+ has fewer codes: inlined comprehensions.
    assert len(codes) >= (95 if env.INLINED_COMPREHENSIONS else 100), len(codes)


@pytest.mark.skipif(not env.HAS_CO_QUALNAME, reason="co_qualname exists on 3.11+ only")
def test_table_is_true_co_qualname(fresh: None) -> None:
    module = load_cases()
    actual = {tag: code.co_qualname for tag, (code, _f, _a, _t) in module.RECORDS.items()}
    assert {tag: expected(tag) for tag in actual} == actual


def test_cold_each_case_alone(fresh: None) -> None:
    """Every case resolved from nothing cached, with its live frame."""
    def resolve(code: types.CodeType, frame: types.FrameType) -> str:
        qn._reset()
        return qualname_of(code, frame)

    module = load_cases(resolve)
    assert mismatches(module) == []


def test_warm_one_cache_for_the_run(fresh: None) -> None:
    """The realistic order: one cache fills up while the program runs."""
    module = load_cases(qualname_of)
    assert mismatches(module) == []


def test_at_settrace_call_events(fresh: None) -> None:
    """As the settrace backend calls it: at the 'call' event, before the body runs."""
    answers: Dict[int, Tuple[types.CodeType, str]] = {}
    touched: List[Any] = []
    watched = {CASES_PATH} | EXEC_FILENAMES

    def tracer(frame: types.FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename in watched and id(code) not in answers:
            trap_log = frame.f_globals.get("TOUCHED", [])  # the cases module's trap log
            before = len(trap_log)
            answers[id(code)] = (code, qualname_of(code, frame))
            touched.extend(trap_log[before:])
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        module = load_cases()
    finally:
        sys.settrace(previous)
    bad = []
    for tag, (code, _frame, _answer, _touched) in sorted(module.RECORDS.items()):
        if code.co_name == "<module>" and code.co_filename == CASES_PATH:
            continue  # the module body started before the tracer could see it
        got = answers.get(id(code))
        if got is None or got[1] != expected(tag):
            bad.append((tag, expected(tag), got and got[1]))
    assert bad == []
    assert touched == []


def test_user_code_never_runs(fresh: None) -> None:
    """Trap objects log every user-level attribute read, ``==``, repr and ``__class__``."""
    module = load_cases(qualname_of)
    assert {tag: t for tag, (_c, _f, _a, t) in module.RECORDS.items() if t} == {}
    qn._reset()
    module2 = load_cases(lambda c, f: (qn._reset(), qualname_of(c, f))[1])
    assert {tag: t for tag, (_c, _f, _a, t) in module2.RECORDS.items() if t} == {}


#: Cases that need their frame below 3.11. A comprehension in a class body is defined by the
#: class body's code, which CPython drops once the class exists, and nothing else on the heap
#: names it (the generator of the genexpr is gone too); its own frame's f_back is the only way.
NEED_FRAME = {"Plain.listcomp", "Plain.genexpr"}


def test_without_a_frame(fresh: None) -> None:
    """``frame=None``: the module is found from ``co_filename``, then index or heap."""
    module = load_cases()
    bad = []
    for tag, (code, _frame, _answer, _touched) in sorted(module.RECORDS.items()):
        qn._reset()
        got = qualname_of(code, None)
        if got != expected(tag) and tag not in NEED_FRAME:
            bad.append((tag, expected(tag), got))
    assert bad == []


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="nothing to rebuild or cache on 3.11+")
def test_strategies_each_used(fresh: None) -> None:
    """Every step of the pipeline is needed by some case (cold, with frames)."""
    used: Dict[str, List[str]] = {}

    def resolve(code: types.CodeType, frame: types.FrameType) -> str:
        qn._reset()
        name, how = qn._explain(code, frame)
        used.setdefault(how, []).append(name)
        return name

    module = load_cases(resolve)
    assert mismatches(module) == []
    assert {"class-body", "parent-frame", "globals-name", "first-argument-mro",
            "globals-index", "gc-referrers", "module"} <= set(used), sorted(used)
    assert "co_name" not in used


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="3.11+ reads co_qualname, nothing is cached")
def test_second_call_is_one_lookup(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[types.CodeType] = []
    real = qn._resolve

    def counting(code: types.CodeType, frame: Optional[types.FrameType]) -> Tuple[str, str]:
        calls.append(code)
        return real(code, frame)

    monkeypatch.setattr(qn, "_resolve", counting)
    module = load_cases(qualname_of)
    assert mismatches(module) == []
    first = len(calls)
    assert 0 < first <= len(module.RECORDS)  # siblings found on the way cost nothing
    for code, frame, answer, _t in module.RECORDS.values():
        assert qualname_of(code, frame) == answer
        assert qualname_of(code, None) == answer
    assert len(calls) == first
    # every cached answer's code is watched, so that its entry goes when it dies
    for code, _f, _a, _t in module.RECORDS.values():
        assert qn._lifetimes._refs[id(code)]() is code


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="nothing is cached on 3.11+")
def test_a_dead_code_objects_answers_go_with_it(fresh: None) -> None:
    """Code made at run time (eval, exec) must not be kept alive by the cache: its answer,
    and the answers of the code it defines, are dropped when it dies."""
    import gc
    import weakref

    namespace: dict = {}
    exec(compile("class Made:\n    def method(self):\n        return 1\n", "<made>", "exec"),
         namespace)
    method = namespace["Made"].method.__code__
    assert qualname_of(method, None) == "Made.method"
    ref = weakref.ref(method)
    key = id(method)
    assert key in qn._names
    del method, namespace
    gc.collect()
    assert ref() is None
    assert key not in qn._names and key not in qn._lifetimes._refs


@pytest.mark.skipif(not env.HAS_CO_QUALNAME, reason="3.11+ only")
def test_3_11_reads_co_qualname_directly(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any) -> Any:
        raise AssertionError("no reconstruction on 3.11+")

    monkeypatch.setattr(qn, "_resolve", boom)
    module = load_cases(qualname_of)
    assert mismatches(module) == []


def _sample_code_and_frame() -> Tuple[types.CodeType, types.FrameType]:
    def sample_inner() -> types.FrameType:
        return sys._getframe()
    frame = sample_inner()
    return frame.f_code, frame


def test_never_raises_on_bad_input(fresh: None) -> None:
    code, frame = _sample_code_and_frame()
    assert qualname_of(None, None) == "<unknown>"  # type: ignore[arg-type]
    assert qualname_of("not code", frame) == "<unknown>"  # type: ignore[arg-type]
    right = "_sample_code_and_frame.<locals>.sample_inner"
    qn._reset()
    assert qualname_of(code, "not a frame") == right  # type: ignore[arg-type]
    qn._reset()
    assert qualname_of(code, sys._getframe()) == right  # a frame running other code
    qn._reset()
    assert qualname_of(code, frame) == right


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="no reconstruction on 3.11+")
@pytest.mark.parametrize("helper", ["_class_body_qualname", "_from_enclosing_frames", "_scan",
                                    "_from_first_argument", "_from_index", "_from_gc",
                                    "_instructions", "_globals_for_file", "_class_codes",
                                    "_instance_attributes", "_load_const_before"])
def test_never_raises_when_a_step_fails(fresh: None, monkeypatch: pytest.MonkeyPatch,
                                        helper: str) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal failure in " + helper)

    monkeypatch.setattr(qn, helper, boom)
    module = load_cases(lambda c, f: (qn._reset(), qualname_of(c, f))[1])
    for tag, (code, _frame, answer, _t) in module.RECORDS.items():
        # each answer is either right (an earlier step found it) or the co_name fallback
        assert answer in (expected(tag), code.co_name), (tag, answer)


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="no reconstruction on 3.11+")
def test_transient_errors_are_not_cached(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    code, frame = _sample_code_and_frame()

    def deep(*args: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(qn, "_resolve", deep)
    assert qualname_of(code, frame) == "sample_inner"
    monkeypatch.undo()
    assert qualname_of(code, frame) == "_sample_code_and_frame.<locals>.sample_inner"


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="no index on 3.11+")
def test_index_refreshed_only_when_globals_grow(fresh: None) -> None:
    """The per-module index is reused while len(globals) is unchanged, extended after."""
    namespace: Dict[str, Any] = {"__name__": "qualname_dynamic", "sys": sys}
    source = ("def {0}():\n"
              "    def {0}_later():\n"
              "        return sys._getframe()\n"
              "    return {0}_later\n")
    exec(source.format("one"), namespace)
    frame = namespace["one"]()()  # called from here, not from its defining frame
    assert qn._explain(frame.f_code, frame) == ("one.<locals>.one_later", "globals-index")
    index = qn._indexes[id(namespace)]
    walked = set(index.walked)
    frame = namespace["one"]()()
    assert qualname_of(frame.f_code, frame) == "one.<locals>.one_later"
    qn._from_index(frame.f_code, namespace)
    assert index.walked == walked  # same size: nothing walked again

    exec(source.format("two"), namespace)
    frame = namespace["two"]()()
    assert qn._explain(frame.f_code, frame) == ("two.<locals>.two_later", "globals-index")
    assert qn._indexes[id(namespace)] is index
    assert index.walked - walked == {("two", id(namespace["two"]))}  # only the new entry


def test_frame_less_function_outside_sys_modules(fresh: None) -> None:
    """No frame, no module: the function object on the heap still has its qualname."""
    namespace: Dict[str, Any] = {"__name__": "qualname_dynamic"}
    exec("def factory():\n    def later():\n        pass\n    return later\n", namespace)
    later = namespace["factory"]()
    assert qualname_of(later.__code__, None) == "factory.<locals>.later"


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="no reconstruction on 3.11+")
def test_children_named_from_parent_bytecode(fresh: None, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """Naming a code names everything it defines, exactly, before any of it runs; constant
    indexes above 255 (EXTENDED_ARG) included."""
    filler = "\n".join("    a%d = %d" % (i, i + 1000) for i in range(300))
    source = ("def big():\n" + filler + "\n"
              "    def late():\n"
              "        class Inner:\n"
              "            def deep(self):\n"
              "                return [x for x in ()]\n"
              "        return Inner\n"
              "    return late\n"
              "class Top:\n"
              "    def m(self):\n"
              "        return lambda: 0\n")
    module_code = compile(source, "<qualname-tree>", "exec")
    assert qualname_of(module_code, None) == "<module>"

    def refuse(*args: Any) -> Any:
        raise AssertionError("should have been named from its parent's bytecode")

    monkeypatch.setattr(qn, "_resolve", refuse)
    codes: Dict[str, types.CodeType] = {}
    pending = [module_code]
    while pending:
        code = pending.pop()
        for const in code.co_consts:
            if type(const) is types.CodeType:
                codes[const.co_name] = const
                pending.append(const)
    big_code = codes["big"]
    late_index = big_code.co_consts.index(codes["late"])
    assert late_index > 255  # so its LOAD_CONST needs EXTENDED_ARG
    assert {name: qualname_of(code, None) for name, code in codes.items()} == {
        "big": "big",
        "late": "big.<locals>.late",
        "Inner": "big.<locals>.late.<locals>.Inner",
        "deep": "big.<locals>.late.<locals>.Inner.deep",
        "<listcomp>": "big.<locals>.late.<locals>.Inner.deep.<locals>.<listcomp>",
        "Top": "Top",
        "m": "Top.m",
        "<lambda>": "Top.m.<locals>.<lambda>",
    }


@pytest.mark.skipif(env.HAS_CO_QUALNAME, reason="no reconstruction on 3.11+")
def test_classes_are_not_kept_alive(fresh: None) -> None:
    """The per-class caches hold classes weakly: ``__subclasses__()`` and finalisation of a
    dropped class are as without the recorder."""
    import gc
    import weakref

    class Base:
        pass

    def make() -> Any:
        class Temporary(Base):
            def method(self) -> types.FrameType:
                return sys._getframe()
        return Temporary

    cls = make()
    frame = cls().method()
    assert qn._explain(frame.f_code, frame)[1] == "first-argument-mro"
    assert qualname_of(frame.f_code, frame) == \
        "test_classes_are_not_kept_alive.<locals>.make.<locals>.Temporary.method"
    assert id(cls) in qn._classes
    ref = weakref.ref(cls)
    del cls, frame
    gc.collect()
    assert ref() is None
    assert Base.__subclasses__() == []


def test_globals_dict_subclass_is_not_called(fresh: None) -> None:
    """exec() accepts a dict subclass as globals; its overrides must never run."""
    calls: List[str] = []

    class LoudDict(dict):  # type: ignore[type-arg]
        def get(self, *args: Any) -> Any:
            calls.append("get")
            return dict.get(self, *args)

        def items(self) -> Any:
            calls.append("items")
            return dict.items(self)

        def values(self) -> Any:
            calls.append("values")
            return dict.values(self)

        def __len__(self) -> int:
            calls.append("len")
            return dict.__len__(self)

        def __iter__(self) -> Any:
            calls.append("iter")
            return dict.__iter__(self)

    namespace = LoudDict(__name__="qualname_loud", sys=sys)
    exec("def factory():\n"
         "    def made():\n"
         "        return sys._getframe()\n"
         "    return made\n", namespace)
    frame = namespace["factory"]()()
    calls.clear()
    assert qualname_of(frame.f_code, frame) == "factory.<locals>.made"
    assert calls == []
