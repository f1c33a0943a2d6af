"""wasmforge's wasi:cli/run glue for a Python script (copied into each build as-is).

componentize-py imports this module while it pre-initialises the component at build time,
so everything here at top level runs then: the user's sources are compiled (syntax errors
fail the build), an in-memory importer is installed for the project's own modules and its
bundled dependencies (no file system exists at run time), and the standard-library modules
they import are loaded into the snapshot. The user's script itself runs only in `run()`.
"""

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import linecache
import os
import sys
import traceback
import types

from componentize_py_types import Err
from wasmforge_sources import ENTRY, MODULES, PRELOAD
from wit_world import exports
from wit_world.imports import environment


def _compile(filename, source):
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec", dont_inherit=True)


class _Importer(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, modules):
        self.codes = {name: (_compile(filename, source), is_package, filename)
                      for name, (filename, is_package, source) in modules.items()}

    def find_spec(self, fullname, path=None, target=None):
        entry = self.codes.get(fullname)
        if entry is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, origin=entry[2],
                                              is_package=entry[1])
        spec.has_location = True
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code, _is_package, filename = self.codes[module.__spec__.name]
        module.__file__ = filename
        exec(code, module.__dict__)


sys.meta_path.insert(0, _Importer(MODULES))
_MAIN = _compile(ENTRY[0], ENTRY[1])
for _name in PRELOAD:
    # a module this platform lacks fails later, where the user imports it
    with contextlib.suppress(BaseException):
        importlib.import_module(_name)


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


class Run(exports.Run):
    def run(self) -> None:
        sys.argv[:] = environment.get_arguments() or [ENTRY[0]]
        os.environ.clear()
        os.environ.update(dict(environment.get_environment()))
        main = types.ModuleType("__main__")
        main.__file__ = ENTRY[0]
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        try:
            exec(_MAIN, main.__dict__)
            code = 0
        except SystemExit as exit_request:
            code = _exit_code(exit_request.code)
        except BaseException as err:  # the user's frames only, not this glue's
            traceback.print_exception(type(err), err, err.__traceback__.tb_next)
            code = 1
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if code != 0:
            # WASI 0.2's run result carries only failure: any non-zero status becomes 1.
            raise Err(None)
