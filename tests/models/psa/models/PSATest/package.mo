package PSATest "Test rigs for the PSA components of O2Twin (used by tests/physics/test_psa_components.py)"
end PSATest;
