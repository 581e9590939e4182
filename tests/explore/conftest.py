import pytest


@pytest.fixture(scope="session")
def area_cache(tmp_path_factory):
    """One manifest/area cache for the session: each geometry's manifest is elaborated from the RTL once."""
    return str(tmp_path_factory.mktemp("explore-area"))
