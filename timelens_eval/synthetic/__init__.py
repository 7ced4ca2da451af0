"""The synthetic benchmark: generated videos of shapes with exact event windows.

``scenes`` (grammar and object state over time), ``queries`` (templates),
``inject`` (the annotation-error taxonomy), ``plan`` (a split without pixels),
``render`` (H.264 encoding), ``annotations`` (file format), ``generate`` (files and
cache), ``loader`` (the registry entry point) and ``confusions`` (where a model's
answers land, event by event). See ``docs/synthetic.md``.
"""
