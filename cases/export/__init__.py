"""The case record as a zip anyone can check offline: ``bundle.py`` builds it, ``verify.py`` (standard
library only, shipped inside every bundle) checks it."""
