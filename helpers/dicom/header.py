"""Describe a DICOM header for a student: the fields that matter, identifiers hidden.

Notebooks get shared and screenshotted, so :func:`describe` hides the tags that identify a
person unless asked.
"""

from __future__ import annotations

# Tags that identify a person, directly or in combination. Notebooks get shared and
# screenshotted, so describe() hides these unless asked.
IDENTIFYING = (
    "PatientName", "PatientID", "IssuerOfPatientID", "OtherPatientIDs",
    "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientWeight", "PatientAddress", "AccessionNumber", "StudyID",
    "StudyDate", "StudyTime", "SeriesDate", "AcquisitionDate", "AcquisitionDateTime",
    "ContentDate", "InstitutionName", "InstitutionAddress", "StationName",
    "DeviceSerialNumber", "ReferringPhysicianName", "PerformingPhysicianName",
    "RequestingPhysician", "OperatorsName",
)
_SECTIONS = {
    "Acquisition": ("Modality", "Manufacturer", "ManufacturerModelName", "SeriesDescription",
                    "KVP", "ConvolutionKernel", "ContrastBolusAgent", "SliceThickness"),
    "Stored values -> HU": ("Rows", "Columns", "BitsAllocated", "BitsStored",
                            "PixelRepresentation", "RescaleSlope", "RescaleIntercept",
                            "RescaleType", "WindowCenter", "WindowWidth"),
    "Geometry (patient coordinates, LPS, mm)": (
        "PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient", "SliceLocation",
        "SpacingBetweenSlices", "InstanceNumber", "PatientPosition"),
}


def _format_value(element) -> str:
    if element.VR == "SQ":
        return f"<sequence of {len(element.value)} item(s)>"
    value = element.value
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    text = f"[{', '.join(str(v) for v in value)}]" if element.VM > 1 else str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def describe(dataset, show_identifiers: bool = False) -> str:
    """A readable summary of the header fields that matter for reading a CT slice.

    Identifying fields (names, IDs, dates, institution) that are present are shown as
    ``<hidden>`` unless ``show_identifiers=True``; absent ones are left out. Other fields
    that are absent are listed as ``(absent)``, because a missing rescale or geometry tag
    matters.
    """
    lines = []
    syntax = getattr(dataset, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is not None:
        kind = "compressed" if syntax.is_compressed else "uncompressed"
        lines += ["File encoding", f"  {'TransferSyntaxUID':<26} {syntax.name} ({kind})"]
    lines.append("Identifying data" + ("" if show_identifiers else
                                       " (hidden; pass show_identifiers=True to see)"))
    for keyword in IDENTIFYING:
        if keyword not in dataset:
            continue
        element = dataset[keyword]
        if show_identifiers:
            shown = _format_value(element)
        elif element.value is None or str(element.value) == "" or element.VR == "SQ" \
                and not element.value:
            shown = "(empty)"
        else:
            shown = "<hidden>"
        lines.append(f"  {keyword:<26} {shown}")
    for title, keywords in _SECTIONS.items():
        lines.append(title)
        for keyword in keywords:
            if keyword in dataset:
                lines.append(f"  {keyword:<26} {_format_value(dataset[keyword])}")
            else:
                lines.append(f"  {keyword:<26} (absent)")
    return "\n".join(lines)
