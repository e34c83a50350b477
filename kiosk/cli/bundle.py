"""``kiosk bundle build|verify|list|use|pack|unpack``: make, check, switch and move bundles."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kiosk.bundle.served import bundles_dir_for
from kiosk.cli.messages import translations
from kiosk.config import KioskConfig
from kiosk.errors import BundleError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "bundle", help="build, verify, list and switch JupyterLite bundles",
        description="Bundles are prebuilt JupyterLite sites (Python in the browser) that "
        "the kiosk serves. They live in the bundles directory (--bundles-dir); the one "
        "named in its 'current' file is served.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    build = verbs.add_parser("build", parents=[common], help="build a bundle from a recipe",
                             description="Build bundles/<profile>/ into a new bundle "
                             "directory (never touching existing ones).")
    build.add_argument("--profile", default=None,
                       help="recipe to build (default: science; see 'kiosk bundle list')")
    build.add_argument("--pyodide-archive", metavar="PATH_OR_URL", default=None,
                       help="the official full Pyodide release archive "
                       "(pyodide-<version>.tar.bz2) to take package files from")
    build.add_argument("--out", type=Path, metavar="DIR", default=None,
                       help="where the bundle goes (default: the bundles directory)")
    build.add_argument("--cache-dir", type=Path, metavar="DIR", default=None,
                       help="downloads and build environments (default: "
                       "$KIOSK_BUNDLE_CACHE or ~/.cache/kiosk/bundles)")
    build.add_argument("--if-missing", action="store_true",
                       help="do nothing when a build of the profile from the same recipe "
                       "exists (a changed recipe is rebuilt; with --activate: activate "
                       "the existing build only if no bundle is active)")
    build.add_argument("--recipes", type=Path, metavar="DIR", default=None,
                       help="folder of recipes (default: bundles/ of the source tree)")
    build.add_argument("--extension", type=Path, metavar="DIR", default=None,
                       help="prebuilt kiosk labextension to include "
                       "(default: extension/dist/labextension, if built)")
    build.add_argument("--activate", action=argparse.BooleanOptionalAction, default=False,
                       help="make the new bundle the active one (it is anyway when "
                       "none is active)")
    build.add_argument("--keep", type=int, default=3, metavar="N",
                       help="keep the N newest builds of this profile, delete older "
                       "inactive ones (default: 3; 0 keeps everything)")
    build.add_argument("--quiet", action="store_true", help="print only the result")
    build.set_defaults(func=run_build)

    verify = verbs.add_parser("verify", parents=[common], help="check a built bundle",
                              description="Check every file against kiosk-bundle.json, "
                              "that nothing reaches outside the kiosk, and that Pyodide's "
                              "packages are the official builds. Exit 1 on any problem.")
    verify.add_argument("dir", type=Path, metavar="DIR",
                        help="bundle directory (or a name/profile in the bundles directory)")
    verify.add_argument("--official-lock", type=Path, metavar="FILE", default=None,
                        help="official pyodide-lock.json to compare with (default: the "
                        "builder's cached copy, if there is one)")
    verify.set_defaults(func=run_verify)

    lister = verbs.add_parser("list", parents=[common], help="list recipes and built bundles")
    lister.add_argument("--recipes", type=Path, metavar="DIR", default=None,
                        help="folder of recipes (default: bundles/ of the source tree)")
    lister.set_defaults(func=run_list)

    use = verbs.add_parser("use", parents=[common], help="switch the active bundle",
                           description="Point the bundles directory's 'current' file at a "
                           "bundle (atomically: a running kiosk switches on its next check).")
    use.add_argument("name", help="a bundle directory name, or a profile (its newest build)")
    use.set_defaults(func=run_use)

    imp = verbs.add_parser(
        "import", parents=[common], help="make a JupyterLite site built elsewhere a bundle",
        description="Import a built JupyterLite site (a folder, .tar.gz or .zip; "
        "jupyterlite-core 0.4 or newer): Pyodide and fonts are made local, the kiosk "
        "extension is added, and anything that would still reach outside the kiosk "
        "stops the import with a list. See docs/bundles.md.")
    imp.add_argument("source", type=Path, metavar="SOURCE",
                     help="the built site: a folder, a .tar.gz/.tgz or a .zip")
    imp.add_argument("--bundle-name", default=None,
                     help="name of the new bundle (default: from SOURCE), a timestamp is added")
    imp.add_argument("--allow", type=Path, metavar="FILE", default=None,
                     help="your reviewed list of inert references (JSON: {\"allow\": "
                     "[{\"path\", \"host\", \"reason\"}]}); a failed import writes "
                     "candidates to start from")
    imp.add_argument("--kiosk-extension", action=argparse.BooleanOptionalAction, default=True,
                     help="add the kiosk's Share dialog and view-only links "
                     "(--no-kiosk-extension when the site brings its own Share UI; the "
                     "kiosk's kernel set-up is added either way when the extension is built)")
    imp.add_argument("--extension", type=Path, metavar="DIR", default=None,
                     help="prebuilt kiosk labextension (default: extension/dist/labextension)")
    imp.add_argument("--package", action="append", default=[], metavar="NAME",
                     help="another Pyodide package to ship (pure Python unless "
                     "--pyodide-archive is given); repeat as needed")
    imp.add_argument("--pyodide-archive", metavar="PATH_OR_URL", default=None,
                     help="the official full Pyodide release archive, for compiled packages")
    imp.add_argument("--cache-dir", type=Path, metavar="DIR", default=None,
                     help="downloads (default: $KIOSK_BUNDLE_CACHE or ~/.cache/kiosk/bundles)")
    imp.add_argument("--activate", action=argparse.BooleanOptionalAction, default=False,
                     help="make the imported bundle the active one")
    imp.add_argument("--quiet", action="store_true", help="print only the result")
    imp.set_defaults(func=run_import, recipes=None)

    pack = verbs.add_parser("pack", parents=[common], help="write a bundle into one file",
                            description="Write the active bundle (or NAME) into one tar "
                            "file, to carry it to a kiosk that cannot build bundles (a "
                            "Raspberry Pi without Node.js): 'kiosk bundle unpack FILE' there.")
    pack.add_argument("file", type=Path, metavar="FILE", help="the archive to write")
    pack.add_argument("name", nargs="?", default=None,
                      help="a bundle directory name or profile (default: the active one)")
    pack.set_defaults(func=run_pack)

    unpack = verbs.add_parser("unpack", parents=[common], help="install a packed bundle",
                              description="Install a bundle written by 'kiosk bundle pack' "
                              "into the bundles directory, verify it, and make it active.")
    unpack.add_argument("file", type=Path, metavar="FILE", help="the archive to read")
    unpack.add_argument("--activate", action=argparse.BooleanOptionalAction, default=True,
                        help="make it the active bundle (default: yes)")
    unpack.set_defaults(func=run_unpack)


def run_build(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle.build import STEPS, BuildOptions, build_bundle
    from kiosk.bundle.profiles import DEFAULT_PROFILE, default_cache_dir, default_recipes_dir
    from kiosk.bundle.progress import Progress

    if args.if_missing and _existing_build(args, config):
        return 0
    recipes = args.recipes or default_recipes_dir()
    extension = _extension_dir(args)
    options = BuildOptions(
        profile=args.profile or DEFAULT_PROFILE,
        recipes_dir=recipes,
        out_dir=args.out or config.bundles_path,
        cache_dir=args.cache_dir or default_cache_dir(),
        pyodide_archive=args.pyodide_archive,
        extension_dir=extension,
        activate=args.activate,
    )
    progress = Progress(STEPS, quiet=args.quiet)
    try:
        result = build_bundle(options, progress)
    except Exception:
        print(translations(config).gettext(
            "kiosk: bundle build failed at step %(done)d/%(total)d (%(step)s)")
            % {"done": progress.done, "total": progress.total, "step": progress.current},
            file=sys.stderr)
        raise
    t = translations(config)
    if args.keep > 0:
        from kiosk.bundle.catalog import prune

        for old in prune(options.out_dir, result.manifest.profile, args.keep):
            progress.say(t.gettext("deleted the old build %(name)s") % {"name": old.name})
    stats = result.stats
    built = t.ngettext(
        "built %(path)s in %(seconds).0f s: %(n)d file, %(mib).1f MiB (br %(br).1f MiB, "
        "gzip %(gzip).1f MiB)",
        "built %(path)s in %(seconds).0f s: %(n)d files, %(mib).1f MiB (br %(br).1f MiB, "
        "gzip %(gzip).1f MiB)", stats.files) % {
            "path": result.path, "seconds": result.seconds, "n": stats.files,
            "mib": stats.raw / 2**20, "br": stats.encoded["br"] / 2**20,
            "gzip": stats.encoded["gzip"] / 2**20}
    print(built + (t.gettext("; active") if result.activated else ""))
    return 0


def run_import(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle.profiles import default_cache_dir
    from kiosk.bundle.progress import Progress
    from kiosk.bundle.site_import import STEPS, ImportOptions, import_site

    built = _extension_dir(args)
    # Without it (--no-kiosk-extension on a machine that never built it) the import goes
    # on, and its report warns that kernels get no kiosk set-up either.
    extension = built if (built / "package.json").is_file() else None
    if extension is None and args.kiosk_extension:
        raise BundleError(translations(config).gettext(
            "no built kiosk extension at %(path)s: run 'make extension', or import with "
            "--no-kiosk-extension") % {"path": built})
    options = ImportOptions(
        source=args.source, out_dir=bundles_dir_for(config),
        cache_dir=args.cache_dir or default_cache_dir(), name=args.bundle_name,
        extension_dir=extension, share_ui=args.kiosk_extension, allow_file=args.allow,
        pyodide_archive=args.pyodide_archive, extra_packages=tuple(args.package),
        activate=args.activate)
    progress = Progress(STEPS, quiet=args.quiet)
    result = import_site(options, progress)
    report = result.report
    t = translations(config)
    print(t.gettext("imported %(path)s: %(local)d made local, %(allowed)d allowed, "
                    "%(dropped)d dropped")
          % {"path": result.path, "local": len(report.localized),
             "allowed": len(report.allowed), "dropped": len(report.dropped)}
          + (t.gettext("; active") if result.activated else ""))
    print(t.gettext("report: %(path)s") % {"path": result.path / "kiosk-import.txt"})
    for warning in report.warnings:
        print(t.gettext("warning: %(warning)s")
              % {"warning": f"{warning['where']}: {warning['what']}"}, file=sys.stderr)
    return 0


def _existing_build(args: argparse.Namespace, config: KioskConfig) -> bool:
    """For --if-missing: is there a build of the profile from the recipe as it is now?

    A build counts only if its manifest records the same recipe fingerprint (see
    :func:`kiosk.bundle.profiles.recipe_fingerprint`): after a recipe change (a package
    added to ``profile.toml``), a rebuilt kiosk extension, or for a build older than
    fingerprints, it is rebuilt.
    Activates the matching build if no bundle is active and --activate was given.
    """
    from kiosk.bundle.active import current_bundle, set_current
    from kiosk.bundle.catalog import built_bundles
    from kiosk.bundle.profiles import (
        DEFAULT_PROFILE,
        default_recipes_dir,
        load_profile,
        recipe_fingerprint,
    )

    out = args.out or config.bundles_path
    profile = args.profile or DEFAULT_PROFILE
    wanted = recipe_fingerprint(load_profile(args.recipes or default_recipes_dir(), profile),
                                _extension_dir(args))
    builds = [b for b in built_bundles(out) if b.manifest and b.manifest.profile == profile]
    same = [b for b in builds if b.manifest and _recipe_sha256(b.manifest.extra) == wanted]
    t = translations(config)
    if not same:
        if builds:
            print(t.gettext("%(name)s was built from an older recipe of '%(profile)s'; "
                            "rebuilding") % {"name": builds[-1].name, "profile": profile})
        return False
    newest = same[-1]
    if args.activate and current_bundle(out) is None:
        set_current(out, newest.name)
        print(t.gettext("%(name)s is already built; now active") % {"name": newest.name})
    else:
        print(t.gettext("%(name)s is already built (make bundle rebuilds)")
              % {"name": newest.name})
    return True


def _extension_dir(args: argparse.Namespace) -> Path:
    """The built kiosk extension a build includes (default: the source tree's)."""
    from kiosk.bundle.profiles import default_recipes_dir

    if args.extension is not None:
        return Path(args.extension)
    return (args.recipes or default_recipes_dir()).parent / "extension" / "dist" / "labextension"


def _recipe_sha256(extra: dict[str, Any]) -> str | None:
    """The recipe fingerprint a manifest records (None for builds made before it)."""
    recipe = extra.get("recipe")
    return str(recipe.get("sha256")) if isinstance(recipe, dict) else None


def _official_lock_for(bundle: Path, cache_dirs: list[Path]) -> Path | None:
    from kiosk.bundle.manifest import read_manifest

    version = read_manifest(bundle).versions.get("pyodide")
    for cache in cache_dirs:
        candidate = cache / "npm" / f"pyodide-{version}" / "package" / "pyodide-lock.json"
        if candidate.is_file():
            return candidate
    return None


def run_verify(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle import catalog
    from kiosk.bundle.profiles import default_cache_dir
    from kiosk.bundle.verify import verify_full

    t = translations(config)
    target: Path = args.dir
    if not target.is_dir():
        if "/" in str(args.dir):
            raise BundleError(t.gettext("%(path)s: no such bundle directory")
                              % {"path": args.dir})
        target = catalog.resolve(config.bundles_path, str(args.dir)).path
    lock = args.official_lock or _official_lock_for(target, [default_cache_dir()])
    problems = verify_full(target, official_lock=lock)
    if problems:
        for problem in problems:
            print(f"{target}: {problem}", file=sys.stderr)
        print(t.ngettext("kiosk: %(n)d problem in %(path)s: rebuild it ('kiosk bundle "
                         "build' or 'make bundle') or switch to another ('kiosk bundle use "
                         "NAME')",
                         "kiosk: %(n)d problems in %(path)s: rebuild it ('kiosk bundle "
                         "build' or 'make bundle') or switch to another ('kiosk bundle use "
                         "NAME')", len(problems)) % {"n": len(problems), "path": target},
              file=sys.stderr)
        return 1
    if lock:
        print(t.gettext("%(path)s: OK, every file matches kiosk-bundle.json (and against "
                        "%(lock)s)") % {"path": target, "lock": lock})
    else:
        print(t.gettext("%(path)s: OK, every file matches kiosk-bundle.json")
              % {"path": target})
    return 0


def run_list(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle import catalog
    from kiosk.bundle.profiles import default_recipes_dir, list_profiles, load_profile

    bundles_dir = bundles_dir_for(config)
    recipes = args.recipes or default_recipes_dir()
    t = translations(config)
    print(t.gettext("recipes in %(path)s:") % {"path": recipes})
    for name in list_profiles(recipes):
        print(f"  {name:<10} {load_profile(recipes, name).description}")
    print(t.gettext("built bundles in %(path)s:") % {"path": bundles_dir})
    bundles = catalog.built_bundles(bundles_dir)
    if not bundles:
        print("  " + t.gettext("(none: run 'kiosk bundle build' or 'make bundle')"))
    for b in bundles:
        mark = "*" if b.active else " "
        if b.manifest is None:
            print(f"{mark} {b.name}  " + t.gettext("BROKEN: %(error)s") % {"error": b.error})
            continue
        m = b.manifest
        files = t.ngettext("%(n)4d file", "%(n)4d files", len(m.files)) % {"n": len(m.files)}
        built = t.gettext("built %(when)s") % {"when": m.built_at}
        print(f"{mark} {b.name:<28} {m.profile:<8} Pyodide {m.versions.get('pyodide', '?'):<8}"
              f" {files} {m.total_bytes / 2**20:7.1f} MiB  {built}")
    return 0


def run_use(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle import active, catalog
    from kiosk.bundle.verify import verify_full

    bundles_dir = bundles_dir_for(config)
    bundle = catalog.resolve(bundles_dir, args.name)
    problems = verify_full(bundle.path)
    if problems:
        for problem in problems[:20]:
            print(f"{bundle.path}: {problem}", file=sys.stderr)
        print(translations(config).gettext(
            "kiosk: not switching to %(name)s: it fails verification") % {"name": bundle.name},
            file=sys.stderr)
        return 1
    active.set_current(bundles_dir, bundle.name)
    print(translations(config).gettext("active bundle: %(name)s") % {"name": bundle.name})
    return 0


def run_pack(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle import active, catalog
    from kiosk.bundle.archive import pack_bundle

    if args.name is not None:
        bundle = catalog.resolve(bundles_dir_for(config), args.name).path
    else:
        current = active.current_bundle(bundles_dir_for(config))
        if current is None or not current.is_dir():
            raise BundleError(translations(config).gettext(
                "no active bundle in %(path)s: build one first ('make bundle' or 'make run')")
                % {"path": bundles_dir_for(config)})
        bundle = current
    files = pack_bundle(bundle, args.file)
    print(translations(config).ngettext("packed %(name)s (%(n)d file) into %(path)s",
                                        "packed %(name)s (%(n)d files) into %(path)s", files)
          % {"name": bundle.name, "n": files, "path": args.file})
    return 0


def run_unpack(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.bundle.archive import unpack_bundle

    done = unpack_bundle(args.file, bundles_dir_for(config), activate=args.activate)
    t = translations(config)
    if done.already_there:
        said = t.gettext("%(path)s: was already there, verified") % {"path": done.path}
    else:
        said = t.ngettext("%(path)s: installed (%(n)d file), verified",
                          "%(path)s: installed (%(n)d files), verified", done.files) % {
            "path": done.path, "n": done.files}
    print(said + (t.gettext("; active") if done.activated else ""))
    return 0
