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
import io
import linecache
import os
import sys
import traceback
import types

from componentize_py_types import Err
from wasmforge_sources import DATA, ENTRY, MODULES, PRELOAD
from wit_world import exports
from wit_world.imports import environment

if DATA:  # bundled packages read their data files through importlib.resources
    from importlib.resources.abc import Traversable, TraversableResources
else:
    Traversable = TraversableResources = object


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

    def get_data(self, path):  # pkgutil.get_data
        data = DATA.get(path.removeprefix("site-packages/"))
        if data is None:
            raise FileNotFoundError(2, "No such file in the component", path)
        return data

    def get_resource_reader(self, fullname):
        entry = self.codes.get(fullname)
        return _Reader(fullname.replace(".", "/")) if entry and entry[1] else None


class _Reader(TraversableResources):
    def __init__(self, folder):
        self.folder = folder

    def files(self):
        return _Resource(self.folder)


class _Resource(Traversable):
    """A file or folder of DATA (paths relative to site-packages), read-only."""

    def __init__(self, path):
        self.path = path

    @property
    def name(self):
        return self.path.rpartition("/")[2]

    def iterdir(self):
        prefix = self.path + "/"
        names = {p[len(prefix):].split("/")[0] for p in DATA if p.startswith(prefix)}
        return iter([_Resource(prefix + name) for name in sorted(names)])

    def is_file(self):
        return self.path in DATA

    def is_dir(self):
        return any(p.startswith(self.path + "/") for p in DATA)

    def joinpath(self, *descendants):
        parts = [self.path, *(d for part in descendants for d in str(part).split("/") if d)]
        return _Resource("/".join(parts))

    def __truediv__(self, child):
        return self.joinpath(child)

    def open(self, mode="r", *args, **kwargs):
        if self.is_dir():
            raise IsADirectoryError(21, "Is a directory", self.path)
        if not self.is_file():
            raise FileNotFoundError(2, "No such file in the component", self.path)
        data = io.BytesIO(DATA[self.path])
        return data if "b" in mode else io.TextIOWrapper(data, *args, **kwargs)


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
