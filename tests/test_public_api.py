import kiln


def test_public_api_is_sorted_and_complete():
    assert kiln.__all__ == sorted(kiln.__all__)
    for name in kiln.__all__:
        assert hasattr(kiln, name), name
    public = {n for n in dir(kiln) if not n.startswith("_") and
              getattr(getattr(kiln, n), "__module__", "").startswith("kiln")}
    modules = {"catalog", "cli", "engine", "errors", "hashing", "home", "marshal", "notebook",
               "runtime", "sdk", "spec", "store", "demo", "serving"}
    assert public - modules <= set(kiln.__all__)


def test_tune_stays_the_function_after_its_subpackage_loads():
    import importlib

    importlib.import_module("kiln.tune.study")
    importlib.import_module("kiln.tune.automl")
    assert callable(kiln.tune) and kiln.tune.__module__ == "kiln.tune.api"


def test_volumes_api_lists_what_it_loads():
    import kiln.volumes as v

    assert v.__all__ == sorted(v._WHERE)
    for name in v.__all__:
        assert callable(getattr(v, name)), name
