"""Tests of plots/; run from the repository root:

    /usr/bin/python3 -m unittest discover -s plots/tests -v

(-t plots works as well, the way CMake/ctest runs them.)
"""
