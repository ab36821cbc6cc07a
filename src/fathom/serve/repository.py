"""A model repository: one package folder, or REPO/<model>/<version>/ package folders.

    repo = Repository("models")          # models/mlp/1, models/mlp/2, models/cnn/1
    repo.get("mlp")                       # the highest version (2)
    repo.get("mlp", 1)
    repo.start_polling()                  # new version folders load without a restart

In a repository the folder names give the model name and version (a single package
folder takes both from its config.json). The default version is the highest. A poller
thread scans the folders every `poll_interval_s` seconds: a new version folder is loaded
once it is complete (config.json and model.safetensors present and the package loads),
then the served set is swapped in one assignment, so a request holds the version it
resolved and finishes on it. A removed folder retires its version: what it has queued
finishes, new requests no longer see it. A loaded version is never reloaded in place
(its files may change under it without effect): publish a new version number instead.

Safety: at start the whole tree is scanned and any pickle-format file (*.pkl, *.pickle,
*.pt, *.pth, *.ckpt, *.joblib, or any file, *.bin included, whose first bytes are pickle's
protocol header, or a zip archive holding a .pkl as torch.save writes) refuses the repository with
an error naming the file. Nothing is ever unpickled; a version folder that gains such a
file later is refused with the same message in the error log.
"""
from __future__ import annotations

import logging
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .package import CONFIG_FILE, NAME_RE, WEIGHTS_FILE, Package, PackageError, load_package

__all__ = ["Repository", "RepositoryError", "ModelVersion", "find_pickles"]

log = logging.getLogger("fathom.serve")

PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib"})
MAX_SCAN_FILES = 100_000  # a repository is a few folders; this bounds a runaway scan


class RepositoryError(ValueError):
    """A repository that cannot be served; the message names the folder or file."""


def _is_pickle(path: Path) -> bool:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    # PROTO opcode (0x80) then the protocol number: pickle protocols 2 to 5
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if head == b"PK\x03\x04":  # torch.save's zip format keeps its pickle in data.pkl
        try:
            with zipfile.ZipFile(path) as z:  # reads the directory only
                return any(n.endswith(".pkl") for n in z.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
    return False


def find_pickles(root) -> list:
    """Every pickle-format file under `root` (by name or by first bytes), never opened
    beyond its first 4 bytes (and a zip's directory)."""
    root = Path(root)
    if root.is_file():
        return [root] if _is_pickle(root) else []
    found, count = [], 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            count += 1
            if count > MAX_SCAN_FILES:
                raise RepositoryError(f"{root}: more than {MAX_SCAN_FILES} files; is this a "
                                      "model repository?")
            p = Path(folder) / name
            if _is_pickle(p):
                found.append(p)
    return found


def _refuse_pickles(root) -> None:
    found = find_pickles(root)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise RepositoryError(f"{found[0]}: pickle-format file in the model repository"
                              f"{more}; Fathom never loads pickles (they can run code). "
                              "Export the model with `fathom export` (safetensors) and "
                              "remove the file")


@dataclass
class ModelVersion:
    """One served version: its package and the runner the app attached (a Batcher)."""
    name: str
    version: int
    package: Package
    runner: object = None
    signature: tuple = field(default=(), repr=False)


def _signature(folder: Path) -> tuple:
    try:
        return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                            for e in os.scandir(folder) if e.is_file()))
    except OSError:
        return ()


class Repository:
    """The served models. `path` is a package folder or a repository folder.

    Args:
        registry: name -> class for "registered" architectures (default: those added by
            `fathom.serve.package.register`).
        poll_interval_s: how often `start_polling`'s thread scans for new versions.

    Raises RepositoryError (or PackageError, naming the file and field) at construction
    when nothing can be served, a package is broken, or a pickle file is present.
    """

    def __init__(self, path, *, registry: dict | None = None, poll_interval_s: float = 2.0):
        self.path = Path(path)
        self.registry = registry
        self.poll_interval_s = float(poll_interval_s)
        if not self.path.is_dir():
            raise RepositoryError(f"{self.path}: no such folder (expected a package folder "
                                  "or a repository of <model>/<version>/ folders)")
        _refuse_pickles(self.path)
        self.single = (self.path / CONFIG_FILE).exists()
        self._lock = threading.Lock()
        self._models: dict = {}      # name -> {version: ModelVersion}; replaced, never edited
        self._failed: dict = {}      # folder -> signature of a failed load (logged once)
        self._make_runner = None
        self._close_runner = None
        self._stop = threading.Event()
        self._thread = None
        if self.single:
            pkg = load_package(self.path, registry)
            self._models = {pkg.name: {pkg.version: ModelVersion(pkg.name, pkg.version, pkg)}}
        else:
            looks_like_model = [d for d in self.path.iterdir()
                                if d.is_dir() and d.name.isdigit() and (d / CONFIG_FILE).exists()]
            if looks_like_model:
                raise RepositoryError(
                    f"{self.path}: holds version folders ({looks_like_model[0].name}/...) "
                    f"of one model; serve the repository folder above it "
                    f"({self.path.parent}), or one version folder")
            self._models = self._scan(strict=True)
            if not self._models:
                raise RepositoryError(f"{self.path}: no model packages found (expected "
                                      f"{self.path}/<model>/<version>/{CONFIG_FILE} or a "
                                      f"package folder with {CONFIG_FILE} and {WEIGHTS_FILE})")

    # --- lookup --------------------------------------------------------------------------
    def names(self) -> list:
        """Model names, sorted."""
        return sorted(self._models)

    def versions(self, name: str) -> list:
        """Served versions of `name`, ascending ([] for an unknown model)."""
        return sorted(self._models.get(name, ()))

    def get(self, name: str, version: int | None = None) -> ModelVersion | None:
        """The served version (default: the highest), or None when there is none."""
        versions = self._models.get(name)
        if not versions:
            return None
        if version is None:
            version = max(versions)
        return versions.get(version)

    def all(self) -> list:
        """Every served ModelVersion."""
        return [mv for vs in self._models.values() for mv in vs.values()]

    # --- runners -------------------------------------------------------------------------
    def attach(self, make_runner, close_runner) -> None:
        """Give every version (now and later) a runner `make_runner(mv)`; a retired
        version's runner is passed to `close_runner(runner)`."""
        with self._lock:
            self._make_runner, self._close_runner = make_runner, close_runner
            for mv in self.all():
                if mv.runner is None:
                    mv.runner = make_runner(mv)

    def close(self) -> None:
        """Stop polling and close every runner (what is queued finishes first)."""
        self.stop_polling()
        with self._lock:
            closing = [mv.runner for mv in self.all() if mv.runner is not None]
        if self._close_runner is not None:
            for runner in closing:
                self._close_runner(runner)

    # --- polling -------------------------------------------------------------------------
    def start_polling(self) -> None:
        """Scan for new and removed version folders every `poll_interval_s` (a daemon
        thread); no-op for a single package folder or a non-positive interval."""
        if self.single or self.poll_interval_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll_loop, name="fathom-serve-poller",
                                        daemon=True)
        self._thread.start()

    def stop_polling(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.poll()
            except Exception as e:  # the server keeps serving what it has
                log.error("model repository scan failed: %s", e)

    def poll(self) -> list:
        """One scan: load complete new versions, retire removed ones, swap. Returns the
        list of changes as strings ('+mlp/3', '-mlp/1')."""
        if self.single:
            return []
        with self._lock:
            current = self._models
            found = self._scan(strict=False, known=current)
            changes = []
            for name, versions in found.items():
                for v, mv in versions.items():
                    if current.get(name, {}).get(v) is not mv:
                        changes.append(f"+{name}/{v}")
                        if self._make_runner is not None:
                            mv.runner = self._make_runner(mv)
            retired = [mv for name, versions in current.items() for v, mv in versions.items()
                       if found.get(name, {}).get(v) is not mv]
            self._models = found  # the swap: one assignment
        for mv in retired:
            changes.append(f"-{mv.name}/{mv.version}")
            if mv.runner is not None and self._close_runner is not None:
                self._close_runner(mv.runner)
        for c in changes:
            log.info("model repository: %s %s", "loaded" if c[0] == "+" else "retired", c[1:])
        return changes

    def _scan(self, strict: bool, known: dict | None = None) -> dict:
        """name -> {version: ModelVersion} from the folders. `strict` raises on the first
        broken package (at start); otherwise broken or incomplete folders are skipped and
        logged once per state of their files."""
        known = known or {}
        out = {}
        for model_dir in sorted(self.path.iterdir()):
            if not model_dir.is_dir() or model_dir.name.startswith("."):
                continue
            if not NAME_RE.match(model_dir.name):
                if strict:
                    log.warning("model repository: skipping %s (not a model name)", model_dir)
                continue
            versions = {}
            for vdir in sorted(model_dir.iterdir()):
                if not vdir.is_dir() or not vdir.name.isdigit() or int(vdir.name) < 1:
                    continue
                v = int(vdir.name)
                mv = self._load_version(model_dir.name, v, vdir, strict,
                                        known.get(model_dir.name, {}).get(v))
                if mv is not None:
                    versions[v] = mv
            if versions:
                out[model_dir.name] = versions
        return out

    def _load_version(self, name, version, folder: Path, strict: bool, old):
        sig = _signature(folder)
        if old is not None and old.signature == sig:
            return old
        if old is not None:  # its files changed under it: keep serving what was loaded
            return old
        names = {n for n, _, _ in sig}
        if not strict and (CONFIG_FILE not in names or WEIGHTS_FILE not in names):
            return None  # still being written
        if self._failed.get(folder) == sig:
            return None
        try:
            if not strict:
                _refuse_pickles(folder)
            pkg = load_package(folder, self.registry)
        except (PackageError, RepositoryError) as e:
            if strict:
                raise
            self._failed[folder] = sig
            log.error("model repository: cannot load %s: %s", folder, e)
            return None
        self._failed.pop(folder, None)
        if (pkg.name, pkg.version) != (name, version):
            log.warning("model repository: %s/%s: config.json says %s version %s; serving "
                        "it as %s version %s (the folder names decide)", name, version,
                        pkg.name, pkg.version, name, version)
            pkg.name, pkg.version = name, version
        return ModelVersion(name, version, pkg, signature=sig)
