"""cdktf constructs for the pipeline: one concern each, environment-agnostic.

Importing this package first installs the lazy loader for the prebuilt AWS bindings
(see ``_bindings``), so every ``from cdktf_cdktf_provider_aws.<submodule> import X`` in the
modules below costs only that submodule.
"""

from ._bindings import install_lazy_bindings

install_lazy_bindings()
