"""The order of the examples in the gallery (sphinx-gallery's ``within_subsection_order``)."""

import os

ORDER = (
    "plot_smote_vs_synaug.py",
    "plot_tabular_smote_vs_synaug.py",
    "plot_synthetic_report.py",
    "plot_grid_search_fill_ratio.py",
    "plot_retrain_head.py",
    "plot_group_fill.py",
    "plot_text_to_image.py",
)


class ExampleOrder:
    """Sort key: the examples in ``ORDER`` first, in that order, then the others by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(filename)
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)
