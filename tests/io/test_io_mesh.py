"""Meshes: exact round trips in .obj/.ply/.vtp and reading files other programs write."""

import base64
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from cryomem.io import Mesh, read_mesh, write_mesh


def _mesh(n: int = 40, m: int = 60) -> Mesh:
    rng = np.random.default_rng(3)
    normals = rng.normal(size=(n, 3))
    return Mesh(
        vertices_xyz_ang=rng.uniform(-5000, 5000, (n, 3)),
        faces=rng.integers(0, n, (m, 3)),
        normals_xyz=normals / np.linalg.norm(normals, axis=1, keepdims=True),
        point_data={
            "score": rng.random(n),
            "label": rng.integers(-3, 1000, n),
            "features": rng.random((n, 5)).astype(np.float32),
            "picked": rng.random(n) > 0.5,
        },
    )


def _assert_geometry(read: Mesh, mesh: Mesh, normals: bool = True) -> None:
    np.testing.assert_array_equal(read.vertices_xyz_ang, mesh.vertices_xyz_ang)  # order kept exactly
    np.testing.assert_array_equal(read.faces, mesh.faces)
    assert read.faces.dtype == np.int64 and read.vertices_xyz_ang.dtype == np.float64
    if normals:
        np.testing.assert_array_equal(read.normals_xyz, mesh.normals_xyz)
    else:
        assert read.normals_xyz is None


@pytest.mark.parametrize("suffix", [".vtp", ".ply"])
def test_round_trip_with_point_data(tmp_path: Path, suffix: str) -> None:
    mesh = _mesh()
    read = read_mesh(write_mesh(tmp_path / f"m{suffix}", mesh))
    _assert_geometry(read, mesh)
    assert list(read.point_data) == list(mesh.point_data)
    for name, values in mesh.point_data.items():
        np.testing.assert_array_equal(read.point_data[name], values)
        assert read.point_data[name].shape == values.shape
    assert read.point_data["features"].dtype == np.float32


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".vtp"])
@pytest.mark.parametrize("with_normals", [True, False])
def test_round_trip_geometry(tmp_path: Path, suffix: str, with_normals: bool) -> None:
    full = _mesh()
    mesh = Mesh(full.vertices_xyz_ang, full.faces, full.normals_xyz if with_normals else None)
    _assert_geometry(read_mesh(write_mesh(tmp_path / f"m{suffix}", mesh)), mesh, normals=with_normals)


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".vtp"])
def test_empty_mesh_round_trips(tmp_path: Path, suffix: str) -> None:
    mesh = Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
    read = read_mesh(write_mesh(tmp_path / f"e{suffix}", mesh))
    assert read.vertices_xyz_ang.shape == (0, 3) and read.faces.shape == (0, 3)


def test_obj_refuses_point_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OBJ cannot store point_data.*write .vtp"):
        write_mesh(tmp_path / "m.obj", _mesh())
    assert list(tmp_path.iterdir()) == []


def test_suffix_and_missing_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unsupported mesh suffix '.stl'; use one of .obj, .ply, .vtp"):
        write_mesh(tmp_path / "m.stl", _mesh())
    with pytest.raises(ValueError, match="unsupported mesh suffix"):
        read_mesh(tmp_path / "m.off")
    with pytest.raises(FileNotFoundError, match="gone.vtp"):
        read_mesh(tmp_path / "gone.vtp")
    (tmp_path / "bad.vtp").write_text("<VTKFile type='PolyData'><unclosed>")
    with pytest.raises(ValueError, match="bad.vtp is not a readable VTP mesh"):
        read_mesh(tmp_path / "bad.vtp")
    (tmp_path / "bad.obj").write_text("v 0 0 0\nf 1 2\n")
    with pytest.raises(ValueError, match="bad.obj is not a readable OBJ mesh.*line 2"):
        read_mesh(tmp_path / "bad.obj")


def test_mesh_validates_shapes() -> None:
    with pytest.raises(ValueError, match="vertices_xyz_ang"):
        Mesh(np.zeros((3, 2)), np.zeros((1, 3), int))
    with pytest.raises(ValueError, match="faces index vertices 0..2"):
        Mesh(np.zeros((3, 3)), [[0, 1, 3]])
    with pytest.raises(ValueError, match="normals_xyz"):
        Mesh(np.zeros((3, 3)), [[0, 1, 2]], normals_xyz=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"point_data\['s'\]"):
        Mesh(np.zeros((3, 3)), [[0, 1, 2]], point_data={"s": np.zeros(4)})


def test_reads_obj_from_other_programs(tmp_path: Path) -> None:
    (tmp_path / "q.obj").write_text(
        "# a quad and a triangle with texture and normal indices, negative indices\n"
        "mtllib x.mtl\no thing\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\n"
        "vt 0 0\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nvn 1 0 0\n"
        "usemtl a\ns off\nf 1/1/1 2/1/2 3/1/3 4/1/4\nf -5/1/-5 -4/1/-4 -1/1/-1\n"
    )
    read = read_mesh(tmp_path / "q.obj")
    np.testing.assert_array_equal(read.faces, [[0, 1, 2], [0, 2, 3], [0, 1, 4]])
    np.testing.assert_array_equal(read.normals_xyz[:, 2], [1, 1, 1, 1, 0])


@pytest.mark.parametrize(
    "text",
    [
        "# plain\no sphere\nv 0 0 0\nv 1.5 0 0\nv 0 1 -2e-3\nv 1 1 0\ns off\nf 1 2 3\nf 2 4 3\n",  # numpy's path
        "v 0 0 0\nv 1.5 0 0\nv 0 1 -2e-3\n  v 1 1 0\nf 1 2 3\nf 2 -1 3\n",  # indented, negative: line by line
    ],
)
def test_plain_obj_reads_the_same_on_both_paths(tmp_path: Path, text: str) -> None:
    from cryomem.io._mesh import _read_plain_obj

    (tmp_path / "m.obj").write_text(text)
    read = read_mesh(tmp_path / "m.obj")
    np.testing.assert_array_equal(read.vertices_xyz_ang, [[0, 0, 0], [1.5, 0, 0], [0, 1, -2e-3], [1, 1, 0]])
    np.testing.assert_array_equal(read.faces, [[0, 1, 2], [1, 3, 2]])
    assert read.normals_xyz is None
    assert (_read_plain_obj(text) is None) == ("-1" in text)


def test_obj_with_a_bad_number_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.obj").write_text("v 0 0 0\nv 1 0 nope\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(ValueError):
        read_mesh(tmp_path / "bad.obj")


def test_obj_with_conflicting_corner_normals_has_none(tmp_path: Path) -> None:
    (tmp_path / "flat.obj").write_text(
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nvn 0 0 -1\nf 1//1 2//1 3//1\nf 1//2 3//2 2//2\n"
    )
    assert read_mesh(tmp_path / "flat.obj").normals_xyz is None


def test_reads_ascii_ply_written_by_trimesh(tmp_path: Path) -> None:
    box = trimesh.creation.box()
    (tmp_path / "box.ply").write_bytes(trimesh.exchange.ply.export_ply(box, encoding="ascii"))
    read = read_mesh(tmp_path / "box.ply")
    np.testing.assert_allclose(read.vertices_xyz_ang, box.vertices)
    np.testing.assert_array_equal(read.faces, box.faces)


TRIANGLE_POINTS = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [10.0, 10.0, 5.0]])


def test_reads_ascii_vtp_as_paraview_writes_it(tmp_path: Path) -> None:
    (tmp_path / "pv.vtp").write_text(
        """<?xml version="1.0"?>
<VTKFile type="PolyData" version="1.0" byte_order="LittleEndian" header_type="UInt64">
  <PolyData>
    <Piece NumberOfPoints="4" NumberOfVerts="0" NumberOfLines="0" NumberOfStrips="0"
           NumberOfPolys="2">
      <PointData Normals="Normals" Scalars="curv">
        <DataArray type="Float32" Name="Normals" NumberOfComponents="3" format="ascii"
                   RangeMin="1" RangeMax="1">
          0 0 1 0 0 1
          0 0 1 0 0 1
        </DataArray>
        <DataArray type="Float64" Name="curv" format="ascii" RangeMin="0" RangeMax="3">
          0 1 2 3
        </DataArray>
      </PointData>
      <CellData>
        <DataArray type="Int32" Name="cell_id" format="ascii">0 1</DataArray>
      </CellData>
      <Points>
        <DataArray type="Float32" Name="Points" NumberOfComponents="3" format="ascii">
          0 0 0 10 0 0 0 10 0 10 10 5
          <InformationKey name="L2_NORM_RANGE" location="vtkDataArray" length="2">
            <Value index="0">0</Value><Value index="1">15</Value>
          </InformationKey>
        </DataArray>
      </Points>
      <Verts>
        <DataArray type="Int64" Name="connectivity" format="ascii"></DataArray>
        <DataArray type="Int64" Name="offsets" format="ascii"></DataArray>
      </Verts>
      <Polys>
        <DataArray type="Int64" Name="connectivity" format="ascii">0 1 2 1 3 2</DataArray>
        <DataArray type="Int64" Name="offsets" format="ascii">3 6</DataArray>
      </Polys>
    </Piece>
  </PolyData>
</VTKFile>
"""
    )
    read = read_mesh(tmp_path / "pv.vtp")
    np.testing.assert_array_equal(read.vertices_xyz_ang, TRIANGLE_POINTS)
    np.testing.assert_array_equal(read.faces, [[0, 1, 2], [1, 3, 2]])
    np.testing.assert_array_equal(read.normals_xyz, np.tile([0.0, 0.0, 1.0], (4, 1)))
    np.testing.assert_array_equal(read.point_data["curv"], [0, 1, 2, 3])


def _zlib_block(values: np.ndarray) -> str:
    """VTK's compressed layout: header [1 block, size, last size, compressed size] then data."""
    raw = values.tobytes()
    packed = zlib.compress(raw)
    header = np.array([1, len(raw), len(raw), len(packed)], dtype="<u4").tobytes()
    return base64.b64encode(header).decode() + base64.b64encode(packed).decode()


def test_reads_zlib_compressed_binary_vtp(tmp_path: Path) -> None:
    points = _zlib_block(TRIANGLE_POINTS.astype("<f4"))
    quad = _zlib_block(np.array([0, 1, 3, 2], "<i8"))
    offsets = _zlib_block(np.array([4], "<i8"))
    (tmp_path / "z.vtp").write_text(
        '<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian" '
        'compressor="vtkZLibDataCompressor"><PolyData><Piece NumberOfPoints="4" NumberOfPolys="1">'
        '<Points><DataArray type="Float32" NumberOfComponents="3" format="binary">'
        f"{points}</DataArray></Points><Polys>"
        f'<DataArray type="Int64" Name="connectivity" format="binary">{quad}</DataArray>'
        f'<DataArray type="Int64" Name="offsets" format="binary">{offsets}</DataArray></Polys>'
        "</Piece></PolyData></VTKFile>"
    )
    read = read_mesh(tmp_path / "z.vtp")
    np.testing.assert_array_equal(read.vertices_xyz_ang, TRIANGLE_POINTS)
    np.testing.assert_array_equal(read.faces, [[0, 1, 3], [0, 3, 2]])  # quad fan-triangulated
    assert read.normals_xyz is None and read.point_data == {}


def test_reads_raw_appended_vtp_with_uint32_headers(tmp_path: Path) -> None:
    blocks = [
        TRIANGLE_POINTS.astype("<f8"),
        np.array([0, 1, 2, 1, 3, 2], "<i4"),
        np.array([3, 6], "<i4"),
        np.array([7.0, 8.0, 9.0, 10.0], "<f4"),
    ]
    offsets, payload = [], b""
    for block in blocks:
        offsets.append(len(payload))
        payload += np.array([block.nbytes], "<u4").tobytes() + block.tobytes()
    head = (
        '<?xml version="1.0"?>\n<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian">'
        '<PolyData><Piece NumberOfPoints="4" NumberOfPolys="2"><PointData Scalars="t">'
        f'<DataArray type="Float32" Name="t" format="appended" offset="{offsets[3]}"/></PointData>'
        '<Points><DataArray type="Float64" NumberOfComponents="3" format="appended" '
        f'offset="{offsets[0]}"/>'
        "</Points><Polys>"
        f'<DataArray type="Int32" Name="connectivity" format="appended" offset="{offsets[1]}"/>'
        f'<DataArray type="Int32" Name="offsets" format="appended" offset="{offsets[2]}"/>'
        '</Polys></Piece></PolyData>\n  <AppendedData encoding="raw">\n   _'
    )
    (tmp_path / "a.vtp").write_bytes(head.encode() + payload + b"\n  </AppendedData>\n</VTKFile>\n")
    read = read_mesh(tmp_path / "a.vtp")
    np.testing.assert_array_equal(read.vertices_xyz_ang, TRIANGLE_POINTS)
    np.testing.assert_array_equal(read.faces, [[0, 1, 2], [1, 3, 2]])
    np.testing.assert_array_equal(read.point_data["t"], [7.0, 8.0, 9.0, 10.0])


def test_reads_binary_with_separately_encoded_header(tmp_path: Path) -> None:
    """Some writers base64-encode the UInt64 size header and the data as two streams."""
    points = TRIANGLE_POINTS[:3]
    encoded = (
        base64.b64encode(np.array([points.nbytes], "<u8").tobytes()).decode()
        + base64.b64encode(points.astype("<f8").tobytes()).decode()
    )
    conn = base64.b64encode(np.array([12], "<u8").tobytes() + np.array([0, 1, 2], "<i4").tobytes()).decode()
    offs = base64.b64encode(np.array([4], "<u8").tobytes() + np.array([3], "<i4").tobytes()).decode()
    (tmp_path / "s.vtp").write_text(
        '<VTKFile type="PolyData" version="1.0" byte_order="LittleEndian" header_type="UInt64">'
        '<PolyData><Piece NumberOfPoints="3" NumberOfPolys="1"><Points>'
        '<DataArray type="Float64" NumberOfComponents="3" format="binary">'
        f"{encoded}</DataArray></Points>"
        f'<Polys><DataArray type="Int32" Name="connectivity" format="binary">{conn}</DataArray>'
        f'<DataArray type="Int32" Name="offsets" format="binary">{offs}</DataArray></Polys>'
        "</Piece></PolyData></VTKFile>"
    )
    read = read_mesh(tmp_path / "s.vtp")
    np.testing.assert_array_equal(read.vertices_xyz_ang, points)
    np.testing.assert_array_equal(read.faces, [[0, 1, 2]])


def test_vtp_header_is_binary_uint64(tmp_path: Path) -> None:
    write_mesh(tmp_path / "m.vtp", _mesh())
    text = (tmp_path / "m.vtp").read_text()
    assert 'header_type="UInt64"' in text and 'format="binary"' in text and 'Normals="Normals"' in text
    assert 'Name="features"' in text and 'NumberOfComponents="5"' in text


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(0, 255), min_size=1, max_size=40),
    header=st.sampled_from(["UInt32", "UInt64"]),
    joint=st.booleans(),
)
def test_binary_arrays_of_any_length_decode(values: list[int], header: str, joint: bool) -> None:
    """Header and data padding differ with the byte count modulo 3; every length must decode."""
    n = len(values)
    data = np.array(values, np.uint8).tobytes()
    size = np.array([len(data)], "<u8" if header == "UInt64" else "<u4").tobytes()
    if joint:
        payload = base64.b64encode(size + data).decode()
    else:
        payload = base64.b64encode(size).decode() + base64.b64encode(data).decode()
    points = np.zeros((n, 3))
    points_size = np.array([points.nbytes], "<u8" if header == "UInt64" else "<u4").tobytes()
    points_text = base64.b64encode(points_size + points.tobytes()).decode()
    xml = (
        f'<VTKFile type="PolyData" byte_order="LittleEndian" header_type="{header}"><PolyData>'
        f'<Piece NumberOfPoints="{n}" NumberOfPolys="0"><PointData>'
        f'<DataArray type="UInt8" Name="v" format="binary">{payload}</DataArray></PointData>'
        '<Points><DataArray type="Float64" NumberOfComponents="3" format="binary">'
        f"{points_text}</DataArray></Points></Piece></PolyData></VTKFile>"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v.vtp"
        path.write_text(xml)
        read = read_mesh(path)
    np.testing.assert_array_equal(read.point_data["v"], values)
