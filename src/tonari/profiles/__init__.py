"""Customer profiles: cleaning of imported values (this package grows into issue 3's profiles).

Everything public is re-exported from :mod:`tonari.profiles.cleaning`.
"""
