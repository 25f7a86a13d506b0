"""The programme reports: figures for a period from the case database (``figures``), drawn as SVG charts
(``charts``) and written as CSV (``exports``)."""
