/// The Python harness for function tests, passed with `-c`. It reads its job as JSON from
/// stdin and a per-run secret from descriptor 3, runs the candidate, and reports on descriptor
/// 4. Only a report carrying the secret can say "correct"; the candidate's source never sees
/// the secret, and a failure report needs no proof.
///
/// Defences, each against a way a model could game a checker:
/// - the harness keeps its own references to builtins, json and os.write, taken before the
///   candidate runs, so patching them does not change the harness;
/// - test code runs with a pristine copy of the builtins, so a patched `abs` or `len` (in
///   `builtins` or shadowed in the candidate's module) does not reach the assertions;
/// - every value the candidate returns is rebuilt as plain data (exact int, float, str, list,
///   tuple, dict, set, None) by type, not by isinstance or `__class__`, so an object whose
///   `__eq__` always answers True compares like anything else it is not;
/// - exiting early (`sys.exit`, `os._exit`) or killing the process leaves no secret report.
let harnessSource = #"""
import builtins, json, os, sys

def _harness():
    write, dumps, loads, fdopen = os.write, json.dumps, json.loads, os.fdopen
    type_, dict_, list_, tuple_, set_, frozenset_ = type, dict, list, tuple, set, frozenset
    int_, float_, str_, bool_, complex_, bytes_ = int, float, str, bool, complex, bytes
    issubclass_, callable_, len_, range_, repr_ = issubclass, callable, len, range, repr
    AssertionError_, MemoryError_, BaseException_ = AssertionError, MemoryError, BaseException
    exc_info = sys.exc_info
    job = loads(sys.stdin.read())
    sys.stdin = open(os.devnull)
    secret = os.read(3, 256).decode()
    os.close(3)
    clean_builtins = dict_(builtins.__dict__)

    def restore_builtins():
        # Undo whatever the candidate did to builtins before the harness uses library code.
        current = builtins.__dict__
        for name in list_(current):
            if name not in clean_builtins:
                del current[name]
        current.update(clean_builtins)

    def report(message, proven=False):
        restore_builtins()
        if proven:
            message["secret"] = secret
        write(4, (dumps(message) + "\n").encode())

    # traceback is imported only on failure paths (it costs ~15 ms per program to import);
    # whatever the candidate did to it can only change how a failure is described.
    def tail():
        restore_builtins()
        import traceback
        return traceback.format_exc()[-800:]

    class NonPlain:
        __slots__ = ()
        def __eq__(self, other): return False
        def __ne__(self, other): return True
        def __hash__(self): return 0
        def __repr__(self): return "<not plain data>"

    def plain(value, depth=0):
        kind = type_(value)
        if value is None or kind is bool_:
            return value
        if depth > 200:
            return NonPlain()
        try:
            if issubclass_(kind, int_): return int_.__int__(value)
            if issubclass_(kind, float_): return float_.__float__(value)
            if issubclass_(kind, str_): return str_.__str__(value)
            if issubclass_(kind, complex_): return complex_(complex_.__complex__(value))
            if issubclass_(kind, bytes_): return bytes_.__bytes__(value) if kind is not bytes_ else value
            if issubclass_(kind, list_): return [plain(v, depth + 1) for v in list_.__iter__(value)]
            if issubclass_(kind, tuple_): return tuple_(plain(v, depth + 1) for v in tuple_.__iter__(value))
            if issubclass_(kind, frozenset_): return frozenset_(plain(v, depth + 1) for v in frozenset_.__iter__(value))
            if issubclass_(kind, set_): return set_(plain(v, depth + 1) for v in set_.__iter__(value))
            if issubclass_(kind, dict_):
                return {plain(k, depth + 1): plain(v, depth + 1) for k, v in dict_.items(value)}
        except BaseException_:
            return NonPlain()
        return NonPlain()

    def as_json(value):
        kind = type_(value)
        if kind in (list_, tuple_): return [as_json(v) for v in value]
        if kind in (set_, frozenset_): return {"__set__": sorted((as_json(v) for v in value), key=repr_)}
        if kind is dict_: return {"__dict__": [[as_json(k), as_json(v)] for k, v in value.items()]}
        if kind is complex_: return {"__complex__": [value.real, value.imag]}
        if kind is bytes_: return {"__bytes__": value.decode("latin-1")}
        if kind is NonPlain: return {"__not_plain__": True}
        if kind is float_ and value != value: return {"__nan__": True}
        if kind is float_ and value in (float_("inf"), float_("-inf")): return {"__inf__": value > 0}
        return value

    try:
        code = compile(job["program"], "solution.py", "exec")
    except BaseException_ as error:
        report({"status": "compile_error", "detail": str_(error)[-800:]})
        return
    namespace = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except MemoryError_:
        report({"status": "memory_limit", "detail": "MemoryError while loading the program"})
        return
    except BaseException_:
        report({"status": "runtime_error", "detail": tail()})
        return
    function = namespace.get(job["entry_point"])
    if function is None and job["mode"] == "call" and type_(namespace.get("Solution")) is type_:
        # APPS's LeetCode problems give starter code `class Solution:` with the function as a
        # method; APPS's own harness calls it on an instance, and so does this one.
        try:
            function = getattr(namespace["Solution"](), job["entry_point"], None)
        except MemoryError_:
            report({"status": "memory_limit", "detail": "MemoryError while making Solution()"})
            return
        except BaseException_:
            report({"status": "runtime_error", "detail": tail()})
            return
    if not callable_(function):
        report({"status": "runtime_error", "detail": "the program defines no function %s" % job["entry_point"]})
        return

    def candidate(*args, **kwargs):
        return plain(function(*args, **kwargs))

    if job["mode"] == "python":
        # The tests may call helpers the prompt defined (HumanEval's poly, encode_cyclic), so
        # they see the program's names, except any that would shadow a builtin.
        tests = {name: value for name, value in namespace.items()
                 if name not in clean_builtins and not name.startswith("__")}
        tests.update({"__builtins__": dict_(clean_builtins), "__name__": "tests", job["entry_point"]: candidate})
        try:
            exec(compile(job["tests"], "tests.py", "exec"), tests)
            tests["check"](candidate)
        except AssertionError_:
            restore_builtins()
            import traceback
            frames = [f for f in traceback.extract_tb(exc_info()[2]) if f.filename == "tests.py"]
            lines = job["tests"].split("\n")
            where = "an assertion failed"
            if frames and 0 < frames[-1].lineno <= len_(lines):
                where = "tests.py:%d: %s" % (frames[-1].lineno, lines[frames[-1].lineno - 1].strip())
            report({"status": "wrong_answer", "detail": where[-800:]})
            return
        except MemoryError_:
            report({"status": "memory_limit", "detail": tail()})
            return
        except BaseException_:
            report({"status": "runtime_error", "detail": tail()})
            return
        report({"status": "correct"}, proven=True)
    else:
        results = []
        for index in range_(len_(job["inputs"])):
            try:
                results.append(as_json(candidate(*job["inputs"][index])))
            except MemoryError_:
                report({"status": "memory_limit", "detail": "test %d: %s" % (index, tail())})
                return
            except BaseException_:
                report({"status": "runtime_error", "detail": "test %d: %s" % (index, tail())})
                return
        report({"status": "results", "results": results}, proven=True)

_harness()
"""#
