"""The study layer: what serves the book, apart from the reusable library.

``experiments`` (the run grids behind each table and a runner that trains only what is missing),
``tables`` (the book's tables and the README's), ``plots`` (figures from run records), ``analysis``
(ICS matrices and distributions of trained runs), ``audit`` (the released code's departures,
measured), ``paper`` (the paper's reported numbers), ``calibration`` (the ICSD weight conversion),
``pairwise`` (the ICS matrix one class pair at a time, for the derivation chapter) and ``reproduce``
(the papermill driver of ``make reproduce``). Nothing in ``aicsd`` outside this package imports it.
"""
