"""VTK XML PolyData (``.vtp``) for triangle meshes, without a VTK dependency.

Writes inline base64 binary (``header_type="UInt64"``, uncompressed). Reads what VTK and
ParaView write: ``ascii``, inline ``binary`` and raw ``appended`` data, uncompressed or
zlib/lzma-compressed, UInt32 or UInt64 headers, either byte order.
"""

from __future__ import annotations

import base64
import itertools
import lzma
import math
import re
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_vtp_arrays", "write_vtp_arrays"]

_VTK_TYPES = {
    "Int8": np.int8,
    "UInt8": np.uint8,
    "Int16": np.int16,
    "UInt16": np.uint16,
    "Int32": np.int32,
    "UInt32": np.uint32,
    "Int64": np.int64,
    "UInt64": np.uint64,
    "Float32": np.float32,
    "Float64": np.float64,
}
_NUMPY_TO_VTK = {np.dtype(v): k for k, v in _VTK_TYPES.items()}
_DECOMPRESSORS = {
    "vtkZLibDataCompressor": zlib.decompress,
    "vtkLZMADataCompressor": lzma.decompress,
}

MeshArrays = tuple[np.ndarray, np.ndarray, "np.ndarray | None", dict[str, np.ndarray]]


def _data_array(parent: ET.Element, name: str, values: np.ndarray) -> None:
    values = np.asarray(values)
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    elif values.dtype == np.float16:
        values = values.astype(np.float32)
    vtk_type = _NUMPY_TO_VTK.get(values.dtype.newbyteorder("="))
    if vtk_type is None:
        raise ValueError(f"point array {name!r} has dtype {values.dtype}, which VTK cannot store")
    payload = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
    header = np.array([len(payload)], dtype="<u8").tobytes()
    element = ET.SubElement(parent, "DataArray", type=vtk_type, Name=name, format="binary")
    if values.ndim == 2:
        element.set("NumberOfComponents", str(values.shape[1]))
    element.text = base64.b64encode(header + payload).decode("ascii")


def write_vtp_arrays(
    path: Path,
    vertices_xyz: np.ndarray,
    faces: np.ndarray,
    normals_xyz: np.ndarray | None,
    point_data: dict[str, np.ndarray],
) -> None:
    """Write a triangle mesh as VTK XML PolyData to ``path`` (not atomic; the caller is).

    Parameters
    ----------
    path : pathlib.Path
        Destination.
    vertices_xyz : (n, 3) float array
        Points, xyz.
    faces : (m, 3) int array
        Triangles, 0-based vertex indices.
    normals_xyz : (n, 3) float array or None
        Per-vertex normals, stored as the active ``Normals`` array.
    point_data : dict of str to (n,) or (n, k) arrays
        Extra per-vertex arrays, stored by name with k components.
    """
    if normals_xyz is not None and "Normals" in point_data:
        raise ValueError("point_data name 'Normals' is reserved for the mesh normals; rename it")
    root = ET.Element("VTKFile", type="PolyData", version="1.0", byte_order="LittleEndian", header_type="UInt64")
    piece = ET.SubElement(
        ET.SubElement(root, "PolyData"),
        "Piece",
        NumberOfPoints=str(len(vertices_xyz)),
        NumberOfVerts="0",
        NumberOfLines="0",
        NumberOfStrips="0",
        NumberOfPolys=str(len(faces)),
    )
    point_element = ET.SubElement(piece, "PointData")
    if normals_xyz is not None:
        point_element.set("Normals", "Normals")
        _data_array(point_element, "Normals", normals_xyz)
    for name, values in point_data.items():
        _data_array(point_element, name, values)
    _data_array(ET.SubElement(piece, "Points"), "Points", np.asarray(vertices_xyz, np.float64))
    polys = ET.SubElement(piece, "Polys")
    _data_array(polys, "connectivity", np.asarray(faces, np.int64).reshape(-1))
    _data_array(polys, "offsets", np.arange(1, len(faces) + 1, dtype=np.int64) * 3)
    text = ET.tostring(root, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n", encoding="utf-8")


def _b64_prefix(text: str, n_bytes: int) -> bytes:
    """The first ``n_bytes`` of a base64 stream (valid whether or not more data follows)."""
    return base64.b64decode(text[: 4 * math.ceil(n_bytes / 3)])[:n_bytes]


def _b64_after(text: str, n_first: int, n_second: int) -> bytes:
    """Bytes ``n_first : n_first + n_second`` of header+data, encoded jointly or separately.

    Separately encoded streams show padding (``=``) before the end of the text; a joint
    stream pads only at its end. Without padding in the header both encodings coincide.
    """
    if "=" in text.rstrip("="):
        start = 4 * math.ceil(n_first / 3)
        return base64.b64decode(text[start : start + 4 * math.ceil(n_second / 3)])[:n_second]
    return _b64_prefix(text, n_first + n_second)[n_first:]


class _RawStream:
    """Raw appended bytes of one DataArray (header, then data)."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def prefix(self, n: int) -> bytes:
        return self.blob[:n]

    def slice(self, start: int, n: int) -> bytes:
        return self.blob[start : start + n]


class _Base64Stream:
    """Inline base64 text of one DataArray; header and data encoded jointly or separately."""

    def __init__(self, text: str) -> None:
        self.text = "".join(text.split())

    def prefix(self, n: int) -> bytes:
        return _b64_prefix(self.text, n)

    def slice(self, start: int, n: int) -> bytes:
        return _b64_after(self.text, start, n)


class _Decoder:
    """Decodes DataArray payloads of one file (header type, byte order, compressor, appended)."""

    def __init__(self, root: ET.Element, appended: bytes | None, path: Path) -> None:
        self.path = path
        self.order = "<" if root.get("byte_order", "LittleEndian") == "LittleEndian" else ">"
        self.header = np.dtype(self.order + ("u8" if root.get("header_type") == "UInt64" else "u4"))
        compressor = root.get("compressor")
        if compressor and compressor not in _DECOMPRESSORS:
            raise ValueError(f"{path} uses {compressor}; re-save it uncompressed or with ZLib")
        self.decompress = _DECOMPRESSORS.get(compressor or "")
        self.appended = appended

    def _header(self, stream: _RawStream | _Base64Stream, n_values: int) -> np.ndarray:
        raw = stream.prefix(n_values * self.header.itemsize)
        return np.frombuffer(raw, dtype=self.header).astype(np.int64)

    def payload(self, element: ET.Element) -> bytes:
        """The decoded (and decompressed) bytes of a binary or appended DataArray."""
        stream: _RawStream | _Base64Stream
        if element.get("format") == "appended":
            if self.appended is None:
                raise ValueError(f"{self.path}: appended DataArray without raw AppendedData")
            stream = _RawStream(self.appended[int(element.get("offset", "0")) :])
        else:
            stream = _Base64Stream(element.text or "")
        size = self.header.itemsize
        if self.decompress is None:  # header: [number of bytes]
            return stream.slice(size, int(self._header(stream, 1)[0]))
        # header: [number of blocks, block size, last block size, compressed size of each block]
        n_blocks = int(self._header(stream, 1)[0])
        block_sizes = self._header(stream, 3 + n_blocks)[3:]
        compressed = stream.slice((3 + n_blocks) * size, int(block_sizes.sum()))
        bounds = itertools.pairwise(np.concatenate([[0], np.cumsum(block_sizes)]).tolist())
        return b"".join(self.decompress(compressed[a:b]) for a, b in bounds)

    def array(self, element: ET.Element) -> np.ndarray:
        vtk_type = element.get("type", "")
        if vtk_type not in _VTK_TYPES:
            raise ValueError(f"{self.path}: DataArray {element.get('Name')!r} has type {vtk_type!r}")
        dtype = np.dtype(_VTK_TYPES[vtk_type]).newbyteorder(self.order)
        if element.get("format", "ascii") == "ascii":
            values = np.array((element.text or "").split(), dtype=dtype.newbyteorder("="))
        else:
            values = np.frombuffer(self.payload(element), dtype=dtype)
        values = values.astype(dtype.newbyteorder("="))
        components = int(element.get("NumberOfComponents", "1"))
        return values.reshape(-1, components) if components > 1 else values


def _split_appended(raw: bytes, path: Path) -> tuple[bytes, bytes | None]:
    start = raw.find(b"<AppendedData")
    if start < 0:
        return raw, None
    tag_end = raw.index(b">", start)
    encoding = re.search(rb'encoding="(\w+)"', raw[start:tag_end])
    if encoding is None or encoding.group(1) != b"raw":
        raise ValueError(f"{path}: base64 AppendedData is not supported; save as binary or ascii")
    return raw[:start] + b"</VTKFile>", raw[raw.index(b"_", tag_end) + 1 :]


def _triangles(connectivity: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    sizes = np.diff(np.concatenate([[0], offsets]))
    if np.all(sizes == 3):
        return connectivity.reshape(-1, 3)
    triangles = [
        (connectivity[end - size], connectivity[end - size + j], connectivity[end - size + j + 1])
        for end, size in zip(offsets.tolist(), sizes.tolist(), strict=True)
        for j in range(1, size - 1)
    ]
    return np.array(triangles, dtype=np.int64).reshape(-1, 3)


def read_vtp_arrays(path: Path) -> MeshArrays:
    """Read a VTK XML PolyData file.

    Returns
    -------
    vertices : (n, 3) float64 array
    faces : (m, 3) int64 array
        Polygons are fan-triangulated; verts, lines and strips are ignored.
    normals : (n, 3) float64 array or None
        The active ``Normals`` point array, else a 3-component array named ``Normals``.
    point_data : dict of str to (n,) or (n, k) arrays
        All other point arrays.
    """
    xml, appended = _split_appended(path.read_bytes(), path)
    root = ET.fromstring(xml)
    if root.tag != "VTKFile" or root.get("type") != "PolyData":
        raise ValueError(f"{path} is not VTK XML PolyData (VTKFile type={root.get('type')!r})")
    decoder = _Decoder(root, appended, path)
    vertices, faces, normals, point_data, n_before = [], [], [], {}, 0
    for piece in root.iter("Piece"):
        points = piece.find("Points/DataArray")
        pts = np.zeros((0, 3)) if points is None else decoder.array(points).reshape(-1, 3)
        polys = {a.get("Name"): decoder.array(a) for a in piece.findall("Polys/DataArray")}
        if "connectivity" in polys:
            tris = _triangles(polys["connectivity"].astype(np.int64), polys["offsets"].astype(np.int64))
            faces.append(tris + n_before)
        arrays = piece.find("PointData")
        arrays_list = [] if arrays is None else arrays.findall("DataArray")
        normals_name = None if arrays is None else arrays.get("Normals")
        if normals_name is None and any(a.get("Name") == "Normals" for a in arrays_list):
            normals_name = "Normals"
        for element in arrays_list:
            values = decoder.array(element)
            if element.get("Name") == normals_name and values.shape == (len(pts), 3):
                normals.append(values.astype(np.float64))
            else:
                point_data.setdefault(element.get("Name", ""), []).append(values)
        vertices.append(pts.astype(np.float64))
        n_before += len(pts)
    merged = {name: np.concatenate(parts) for name, parts in point_data.items()}
    return (
        np.concatenate(vertices) if vertices else np.zeros((0, 3)),
        np.concatenate(faces).astype(np.int64) if faces else np.zeros((0, 3), np.int64),
        np.concatenate(normals) if normals and len(normals) == len(vertices) else None,
        merged,
    )
