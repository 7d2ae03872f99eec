"""Subjects and sites with something of their own, planted into an already simulated cohort.

Every subject of :func:`~unlearn_lib.data.cohort.simulate_cohort` is a warp of one template, so a
segmenter that generalises has nothing subject-specific to forget. This module gives a cohort requests
that do carry something only they can teach, each returned as a new :class:`Cohort` (the input is never
mutated, and every subject or voxel not named is bit-identical to it):

* :func:`enlarge_ventricles` - **anatomy** out of range: ventriculomegaly *ex vacuo* (central white-matter
  loss replaced by CSF, as in advanced atrophy or hydrocephalus), grown outward from the subject's own deep
  CSF until its CSF volume is ``factor`` times the largest of the other subjects. Label and image agree:
  a relabelled voxel gets the subject's own CSF intensity at that place (its scanner's contrast, its bias
  field, its noise level), estimated from its image, so nothing but the shape is new. Caveat for the
  study: a model that segments by intensity may still get this subject right without having seen it; that
  is what the notebook must measure, not assume.
* :func:`add_wm_lesions` - **an image-to-label mapping** no other subject shows: T1-hypointense white-matter
  lesions ("black holes") kept under the WM label, as MRBrainS13's three-tissue protocol does and as this
  project's own MRBrainS18 ``"tissues"`` merge does (label 4, WM lesions, into WM). A model that never saw
  them labels them GM or CSF (the failure lesion filling exists for), so only this subject teaches them.
* :func:`plant_site` - **a site**: a group of subjects re-acquired under a protocol no other site shares
  (a contrast change, one coil profile for the whole site, thick slices), recorded in ``meta["site"]``
  so that "forget site S" is a request (:func:`site_request`). Hospitals withdraw data by site.

:func:`describe_subjects` and :func:`describe_sites` say how distinctive each subject and site is
relative to the rest (volume and intensity z-scores), so a notebook labels every request by its design
before it measures the retrain gap. The design is also written into ``meta["design"]``.

Why intensities are estimated from the image and not re-simulated: a :class:`Cohort` does not record
the seed, bias field or normalisation that made it, and the same code then works for any volume with
CSF/GM/WM labels. Each tissue's local intensity is a normalised convolution of the image over that
tissue's least partial-volumed voxels (smooth, so it follows the bias field), and the noise level is the
robust spread of steps between neighbouring white-matter voxels (so the bias field and anatomy cancel).

A package (no module over 500 lines), with every name importable from here:
:mod:`.anatomy` (ventricles, lesions and the intensity model), :mod:`.sites`, :mod:`.describe` and the
checks and metadata they share (:mod:`.common`).
"""

from __future__ import annotations

from ..cohort import Cohort as Cohort
from ..cohort import Scanner as Scanner
from .anatomy import LESION_RADIUS, MAX_LESION_RADIUS, add_wm_lesions, check_radius, enlarge_ventricles, lesion_mask
from .common import DESIGN_KEY, SETTINGS, SITE_KEY, SITE_SCANNER, check_setting
from .describe import describe_sites, describe_subjects
from .sites import plant_site, site_request

__all__ = [
    "DESIGN_KEY",
    "LESION_RADIUS",
    "MAX_LESION_RADIUS",
    "SETTINGS",
    "SITE_KEY",
    "SITE_SCANNER",
    "add_wm_lesions",
    "check_radius",
    "check_setting",
    "describe_sites",
    "describe_subjects",
    "enlarge_ventricles",
    "lesion_mask",
    "plant_site",
    "site_request",
]
