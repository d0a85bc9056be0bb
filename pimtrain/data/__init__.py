"""Data shipped with pimtrain (files only; see README.md here): the CrossSim digits split and the
measured TaOx / ENODe update responses in derived form. Read through
:func:`pimtrain.design.paths.package_data_file` and ``package:`` paths in designs."""
