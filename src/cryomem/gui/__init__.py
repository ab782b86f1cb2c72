"""Napari plugin for membranes in cryo-electron tomograms.

Widget logic lives in pure modules (numpy/scipy only, no napari or Qt imports) so it can be tested
without a viewer; the widgets are thin wrappers around them.
"""
