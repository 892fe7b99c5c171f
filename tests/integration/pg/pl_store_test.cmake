# pl_store_test_on_pg(NAME): run the store test NAME (registered with
# pl_add_test in the same folder, linked with pl_test_store) a second time,
# as NAME_pg, against a PostgreSQL server the test starts itself. It skips
# (77, with the reason) only where PostgreSQL 15 is not installed.
include_guard(GLOBAL)
function(pl_store_test_on_pg name)
  get_test_property(${name} ENVIRONMENT env)
  get_test_property(${name} TIMEOUT timeout)
  get_test_property(${name} LABELS labels)
  add_test(NAME ${name}_pg COMMAND ${name})
  set_tests_properties(${name}_pg PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT ${timeout}
    LABELS "${labels};pg"
    ENVIRONMENT "${env};PL_TEST_STORE=pg")
endfunction()
