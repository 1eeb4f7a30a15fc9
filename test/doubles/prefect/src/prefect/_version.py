# TEST DOUBLE of Prefect (PyPI "prefect" 3.4.x) for pag-ansible's tests; product code must not know about it.
# build.py rewrites this file with the version it builds.
__version__ = "3.4.11"
