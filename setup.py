"""Maps the top-level ``backends/`` folder to the ``nirconv.backends`` package (see pyproject.toml)."""
from setuptools import find_packages, setup

packages = find_packages(include=["nirconv", "nirconv.*"])
packages += ["nirconv." + p for p in find_packages(include=["backends", "backends.*"])]
setup(packages=packages, package_dir={"nirconv": "nirconv", "nirconv.backends": "backends"})
