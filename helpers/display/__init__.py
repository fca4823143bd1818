"""Show CT as radiologists read it: orientation, windows in HU, overlays, figures, a viewer.

The shared picture layer beneath every other part of the series. Modules:

* :mod:`.slices`: pure functions: windows, reorienting to LPS, display-ready slices, the
  mapping between a displayed pixel and its voxel;
* :mod:`.colours`: colours for labels and outlines (Okabe-Ito), blending them over a slice;
* :mod:`.diagrams`: the three-stage pipeline and the label-transfer flow, as figures;
* :mod:`.figures`: three planes, the HU scale, windows side by side, slabs;
* :mod:`.viewer`: :class:`SliceViewer` (ipywidgets) and :func:`montage`, its static twin.
"""

from .colours import (
    FILL_COLORS,
    HEAT_CMAP,
    HIGHLIGHT_COLOUR,
    LETTER_COLOUR,
    OKABE_ITO,
    OUTLINE_COLORS,
    OUTLINE_STYLES,
    REFERENCE_COLOUR,
    REFERENCE_STYLE,
    RESULT_COLOUR,
    RESULT_STYLE,
    composite_overlay,
    label_colors,
    outline_colors,
    outline_styles,
)
from .diagrams import label_transfer_diagram, pipeline_diagram
from .figures import (
    add_edge_letters,
    add_letters,
    compare_windows,
    hu_colorbar,
    panel_grid,
    show_hu_scale,
    show_planes,
    show_raw_vs_radiological,
    show_slabs,
)
from .slices import (
    EDGE_LETTERS,
    PLANES,
    TISSUE_BANDS,
    WINDOW_PRESETS,
    apply_window,
    display_to_index,
    edge_letters_from_directions,
    extract_slice,
    index_to_display,
    label_centroid_mm,
    orient_slice,
    pixel_aspect,
    plane_axis,
    point_to_slice_indices,
    raw_edge_letters,
    resolve_window,
    tissue_class_map,
    to_lps,
    window_bounds,
)
from .viewer import SliceViewer, montage

__all__ = ["EDGE_LETTERS", "FILL_COLORS", "HEAT_CMAP", "HIGHLIGHT_COLOUR", "LETTER_COLOUR",
           "OKABE_ITO", "OUTLINE_COLORS", "OUTLINE_STYLES", "PLANES", "REFERENCE_COLOUR",
           "REFERENCE_STYLE", "RESULT_COLOUR", "RESULT_STYLE", "SliceViewer", "TISSUE_BANDS",
           "WINDOW_PRESETS", "add_edge_letters", "add_letters", "apply_window", "compare_windows",
           "composite_overlay", "display_to_index", "edge_letters_from_directions",
           "extract_slice", "hu_colorbar", "index_to_display", "label_centroid_mm", "label_colors",
           "label_transfer_diagram", "montage", "orient_slice", "outline_colors", "outline_styles",
           "panel_grid", "pipeline_diagram", "pixel_aspect", "plane_axis",
           "point_to_slice_indices", "raw_edge_letters", "resolve_window", "show_hu_scale",
           "show_planes", "show_raw_vs_radiological", "show_slabs", "tissue_class_map", "to_lps",
           "window_bounds"]
