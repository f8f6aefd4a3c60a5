# outpost_unit_test(NAME SOURCES a.cpp b.cpp LIBS lib1 lib2): a GoogleTest binary registered with
# CTest (one CTest entry per test case via gtest_discover_tests), labelled "unit".
include(GoogleTest)
function(outpost_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${name} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()

# Integration tests use Debian's python3 (with python3-pytest), not whatever python3 is first on
# PATH (a pyenv interpreter, say, has no pytest).
find_program(OUTPOST_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
# Only the tests need it: a build with -DBUILD_TESTING=OFF (deploy/Dockerfile) does without.
if(NOT OUTPOST_PYTHON AND BUILD_TESTING)
  find_program(OUTPOST_PYTHON NAMES python3 REQUIRED)
endif()

# outpost_integration_test(NAME SCRIPT): a pytest file run against the built binaries.
function(outpost_integration_test name script)
  add_test(NAME ${name}
           COMMAND ${OUTPOST_PYTHON} -m pytest -q -x -p no:cacheprovider ${script})
  set_tests_properties(${name} PROPERTIES LABELS integration
    ENVIRONMENT "OUTPOST_BIN=${CMAKE_BINARY_DIR}/bin;OUTPOST_SOURCE=${PROJECT_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1"
    TIMEOUT 600)
endfunction()
