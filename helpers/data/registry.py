"""The data registry: every real sample the series uses, with where it comes from.

One table, in the spirit of scikit-image's data module: a sample's name maps to its
files (path inside the cache or a mirror, SHA-256, pinned public URL), its licence,
its citation and a one-line description. data_samples/README.md is the
human-readable twin of this table (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

TOTALSEG_COMMIT = "0e65a448d557382b1e925276212b3bec7f5aff83"
TOTALSEG_RAW = f"https://raw.githubusercontent.com/wasserth/TotalSegmentator/{TOTALSEG_COMMIT}/"
TOTALSEG_CITATION = (
    "Wasserthal J. et al., TotalSegmentator: Robust Segmentation of 104 Anatomic Structures "
    "in CT Images. Radiology: Artificial Intelligence 2023, doi:10.1148/ryai.230024"
)
TOTALSEG_DATA_LICENCE = (
    "CC BY 4.0 (TotalSegmentator CT dataset, doi:10.5281/zenodo.6802613; University Hospital "
    "Basel), distributed in the Apache-2.0 TotalSegmentator repository"
)


@dataclass(frozen=True)
class SampleFile:
    """One file of a sample.

    path is where the file lives inside the cache and inside a mirror folder;
    url is its pinned public address (None when the file is rebuilt locally).
    """

    path: str
    sha256: str
    url: str | None


@dataclass(frozen=True)
class Sample:
    """A named data sample: one file, or a folder of files (a DICOM series)."""

    name: str
    kind: str  # "ct", "labels", "dicom-series", "dicom-file" or "table"
    description: str
    licence: str
    citation: str
    files: tuple[SampleFile, ...]
    folder: str | None = None  # set for multi-file samples: fetch() returns this folder
    source: str = ""  # where the bytes come from, for people


def _totalseg(path_in_repo: str, local: str, sha: str) -> SampleFile:
    return SampleFile(local, sha, TOTALSEG_RAW + path_in_repo)


_DICOM_UID_PREFIX = "1.3.12.2.1107.5.1.4.60064.30000022120808113428000016"
# (last digits of the SOP instance UID, SHA-256) for the 20 slices
_DICOM_FILES = [
    ("573", "4c5633409fa4d3edf6871e5684e9e1b10325b4d0949997582f43b23a684d0dc4"),
    ("574", "9148f91127145497f4d6c6f0780f9452504cd7fe5088ec8f2bf2b21800c731ff"),
    ("575", "3edaccec892e0821440cbefe3d5465923bb5146c316cbaf58f578d962f120484"),
    ("576", "9b68685f0c5f9bfcfc2c397f4fadf431da288d7422ca72e7d9031d4e039418cd"),
    ("577", "c8d2c0dc05e414d47d3652c658d8fecc20c3cf7ce106c10d84ad033d39700bcc"),
    ("578", "0ee2c1d58e06cedd91483ca35c04da3c26fea0dbe88aaf1eaa950b57f38357d6"),
    ("579", "c76cf0818d4215b92883d109b8a0b62ae0a4d81637eed98738f9c62b6f49bb72"),
    ("580", "106e20514fd3ca66895e14dbfba96c01c1195e4ed890c035d4368dd71f3ee116"),
    ("581", "5804e6c4a50f4d5b20040ac82a1c6d79cba5f7267d71f10b0a1b49eda1bc13ff"),
    ("582", "bef219a16b22949224de4581a2d288863b2585d29556ac24021f03307378cb39"),
    ("583", "9de5a49e880417d5330fe299115fdb95831a98234216a31c5c0e9a0be9a6dcd3"),
    ("584", "fa00c8d81ec8aa0d0cfc4e05343782c3a75a4c60df8cccf9ff5db42ac454e61d"),
    ("585", "ebba0900b0f728db0c94c769db3e5ca38a0cd916386a727541eb3e56350770e5"),
    ("586", "f084ec95cfba25efb7cbe86e8b4966b051904037e8385f58fe398c5475693b89"),
    ("587", "20a9b88a30ea8a824ac65cb19c1ebf80964b41ff476497706ff2a286e5f27a25"),
    ("588", "2a515d3b60f3ff733aac1fc5414206c331e3ed2ccef8c2e0c30b844c538e3ed8"),
    ("589", "5880669f1bc36b09cad4bdf487992ec415da0afa014e927efc282e612f467574"),
    ("590", "7af4dd5b5766a87368939116b91f90d989820e7b2237fb9bcd10d47db0960875"),
    ("591", "671306f4462ae881976c18c6a2d8a1567279fb0166ef0e9e8a41271fac9c1cbb"),
    ("592", "fdb76ad5272f074e07cc81509604fd163f2f8a9903d34b16ba6f078250373c51"),
]

SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in [
        Sample(
            name="totalsegmentator_example_ct",
            kind="ct",
            description="Real abdominal/pelvic CT, native (non-contrast) phase, "
            "122 x 101 x 112 voxels, 3.0 mm isotropic, HU.",
            licence=TOTALSEG_DATA_LICENCE,
            citation=TOTALSEG_CITATION,
            files=(
                _totalseg(
                    "tests/reference_files/example_ct.nii.gz",
                    "totalsegmentator_example_ct.nii.gz",
                    "dbd3ae6d614d1d7ef3a46925c30c70038ed52da6b37fdd6afdc7b9b71387e3e1",
                ),
            ),
        ),
        Sample(
            name="totalsegmentator_example_ct_sm",
            kind="ct",
            description="The same native CT cropped to 30 slices of the upper abdomen "
            "(122 x 101 x 30, 3.0 mm, HU): the base of every virtual patient.",
            licence=TOTALSEG_DATA_LICENCE,
            citation=TOTALSEG_CITATION,
            files=(
                _totalseg(
                    "tests/reference_files/example_ct_sm.nii.gz",
                    "totalsegmentator_example_ct_sm.nii.gz",
                    "e50c00b2914e2cac0aaee8e7f3b5f57d44d9f21bfd5c0577271c54c0cb49e9fb",
                ),
            ),
        ),
        Sample(
            name="totalsegmentator_example_seg",
            kind="labels",
            description="TotalSegmentator organ label map for totalsegmentator_example_ct_sm "
            "(same grid; pancreas = 7). Model output used as a reference, not manual truth.",
            licence=TOTALSEG_DATA_LICENCE,
            citation=TOTALSEG_CITATION,
            files=(
                _totalseg(
                    "tests/reference_files/example_seg.nii.gz",
                    "totalsegmentator_example_seg.nii.gz",
                    "8be652475a4aaae83103a66bfb3345314b1fc06742807a06cf5005f7a7913a2d",
                ),
            ),
        ),
        Sample(
            name="totalsegmentator_total_labels",
            kind="table",
            description="Label id -> structure name for TotalSegmentator's 'total' class map "
            "(117 classes), as JSON.",
            licence="Apache-2.0 (derived from TotalSegmentator's source code)",
            citation=TOTALSEG_CITATION,
            files=(
                SampleFile(
                    "totalsegmentator_total_labels.json",
                    "5dd28e7f49d0d7aa29443564610336636b27939413dbfff73679142c9b2efe0a",
                    None,
                ),
            ),
            source="derived from " + TOTALSEG_RAW + "totalsegmentator/map_to_binary.py; "
            "rebuilt locally from helpers/data/totalseg_labels.py when no mirror has it",
        ),
        Sample(
            name="totalsegmentator_arterial_ct_cropped",
            kind="ct",
            description="A different patient: chest CT angiography crop, early arterial phase "
            "(contrast in aorta and heart), 120 x 126 x 164, 1.5 mm, HU. No pancreas.",
            licence=TOTALSEG_DATA_LICENCE,
            citation=TOTALSEG_CITATION,
            files=(
                _totalseg(
                    "tests/reference_files/aorta_report/test_result/models/ct_cropped.nii.gz",
                    "totalsegmentator_arterial_ct_cropped.nii.gz",
                    "f776ecfa1326e7e21a8c30e5530f517c16f16a59a68fc06e8119cefc7c3b87a0",
                ),
            ),
        ),
        Sample(
            name="totalsegmentator_example_ct_dicom",
            kind="dicom-series",
            description="Real DICOM series: 20 axial slices of the upper abdomen, 512 x 512, "
            "0.977 mm pixels, 2.0 mm slices, JPEG 2000 lossless, de-identified.",
            licence=TOTALSEG_DATA_LICENCE,
            citation=TOTALSEG_CITATION,
            files=tuple(
                _totalseg(
                    f"tests/reference_files/example_ct_dicom/CT.{_DICOM_UID_PREFIX}{suffix}",
                    f"totalsegmentator_example_ct_dicom/CT.{_DICOM_UID_PREFIX}{suffix}.dcm",
                    sha,
                )
                for suffix, sha in _DICOM_FILES
            ),
            folder="totalsegmentator_example_ct_dicom",
        ),
        Sample(
            name="pydicom_ct_small",
            kind="dicom-file",
            description="One real 128 x 128 CT slice shipped inside pydicom (CT_small.dcm); "
            "no download needed.",
            licence="MIT (pydicom test data; downsized from NEMA WG04 'CT1_UNC')",
            citation="pydicom contributors, pydicom (https://github.com/pydicom/pydicom)",
            files=(
                SampleFile(
                    "CT_small.dcm",
                    "3dd31e5cc835b3f2cdd46c9da1982f59251e78518fefa8163d914631c66437d6",
                    None,
                ),
            ),
            source="bundled with pydicom: pydicom.data.get_testdata_file('CT_small.dcm')",
        ),
    ]
}
