"""cryomem: membranes in cryo-electron tomograms.

Layers (imports point down only): cli -> pipeline -> {simulate, segment, pick, stats} -> geometry -> io.
"""

__version__ = "0.1.0"
