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
