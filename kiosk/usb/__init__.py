"""The kiosk on a USB stick: ``kiosk usb make`` writes it, ``kiosk usb verify`` checks it.

A stick is a plain folder (FAT32/exFAT-safe: no symlinks, no executable bits relied
upon, short portable names) holding the active bundle, the kiosk's wheel and every
dependency as wheels for Windows, macOS and Linux, a README for the teacher and the
launchers ``start.bat``, ``start.command`` and ``start.sh``. Modules:

* :mod:`kiosk.usb.platforms` - the platforms and Python versions a stick serves;
* :mod:`kiosk.usb.wheels` - building the kiosk wheel, ``pip download`` per platform,
  and the marker-aware completeness check of a wheel set;
* :mod:`kiosk.usb.layout` - the folder layout, name rules and ``kiosk-usb.json``;
* :mod:`kiosk.usb.launchers` - the text of the launchers and of the README;
* :mod:`kiosk.usb.runtime` - Debian's Python for Linux laptops without one
  (``--with-python``), fetched with apt and packed into one file;
* :mod:`kiosk.usb.bootstrap` - the stdlib-only program the launchers run on a laptop;
* :mod:`kiosk.usb.verify` - comparing a stick with its manifest.
"""
