"""The shared bottom: errors, atomic file writing and the typed config base.

Takes nothing from the rest of drumrnn; every other stage may use it.
"""
