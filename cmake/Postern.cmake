# Shared build helpers.  Every module uses these so warnings, sanitizers and
# test registration stay uniform.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

set(PN_WARNINGS -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter -Wno-sign-conversion)
if(PN_WERROR)
  list(APPEND PN_WARNINGS -Werror)
endif()
add_compile_options(-fno-strict-aliasing -D_GNU_SOURCE)
if(PN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(PN_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PN_FUZZ needs clang (CC=clang)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# pkg-config imported targets for the dependency set of the brief.
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle hogweed)
pkg_check_modules(NGTCP2 REQUIRED IMPORTED_TARGET libngtcp2 libngtcp2_crypto_gnutls)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(JWT REQUIRED IMPORTED_TARGET libjwt-gnutls)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
# libpq and libnftables: headers only, loaded at run time on first use
# (controller/pq_dl.h, client/nft_dl.h).
pkg_check_modules(NFT REQUIRED IMPORTED_TARGET libnftables)
pkg_check_modules(MNL REQUIRED IMPORTED_TARGET libmnl)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# pn_library(name SOURCES ... DEPS ...): static library pn_<name>, headers
# included as "<module>/<file>.h" from src/.
function(pn_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(pn_${name} STATIC ${A_SOURCES})
  target_include_directories(pn_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(pn_${name} PRIVATE ${PN_WARNINGS})
  target_link_libraries(pn_${name} PUBLIC ${A_DEPS})
endfunction()

# Test costs (tests/cost.txt: "name release-s sanitize-s [cpus]" per
# line): each listed test gets its seconds as ctest's COST, so ctest -j
# starts the longest first even in a fresh build directory (no cost data
# of earlier runs), and cpus (default 1) as its PROCESSORS: a test that
# keeps about a core busy takes 2 of ctest's -j slots (scripts/test.sh runs
# 2 x nproc).  pn_test_costs() applies them to every test of the calling
# directory once it is processed; pn_unit_test and pn_integration_test call
# it, a directory with only plain add_test calls calls it itself.
file(STRINGS ${CMAKE_SOURCE_DIR}/tests/cost.txt _pn_cost_lines REGEX "^[A-Za-z0-9_]")
foreach(_l IN LISTS _pn_cost_lines)
  string(REGEX REPLACE "[ \t]+" ";" _f "${_l}")
  list(GET _f 0 _n)
  if(PN_SANITIZE)
    list(GET _f 2 _c)
  else()
    list(GET _f 1 _c)
  endif()
  set(PN_COST_${_n} ${_c})
  list(LENGTH _f _len)
  if(_len GREATER 3)
    list(GET _f 3 _p)
    set(PN_CPUS_${_n} ${_p})
  endif()
endforeach()
function(_pn_apply_test_costs)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(t IN LISTS tests)
    if(DEFINED PN_COST_${t})
      set_tests_properties(${t} PROPERTIES COST ${PN_COST_${t}})
    endif()
    if(DEFINED PN_CPUS_${t})
      set_tests_properties(${t} PROPERTIES PROCESSORS ${PN_CPUS_${t}})
    endif()
  endforeach()
endfunction()
function(pn_test_costs)
  get_property(done DIRECTORY PROPERTY PN_COSTS_DEFERRED)
  if(NOT done)
    set_property(DIRECTORY PROPERTY PN_COSTS_DEFERRED 1)
    cmake_language(DEFER CALL _pn_apply_test_costs)
  endif()
endfunction()

# pn_unit_test(name SOURCES ... DEPS ... [TIMEOUT s]): a cmocka test binary,
# registered with ctest under label "unit".
function(pn_unit_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${PN_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT ${A_TIMEOUT})
  pn_test_costs()
endfunction()

# pn_integration_test(name SCRIPT file [TIMEOUT s] [SERIAL]): a shell test
# run as `bash file <build-dir>` with label "integration" (needs root:
# netns).  Each runs in a network and mount namespace of its own, with a
# private /run/netns: two tests can use the same namespace, interface and
# address names at once, so they run in parallel (ctest -j).  SERIAL: a test
# whose load (floods, thousands of flows) would starve a timing-sensitive
# neighbour runs alone.
function(pn_integration_test name)
  cmake_parse_arguments(A "SERIAL" "SCRIPT;TIMEOUT" "" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND unshare --mount --net --propagation private --
    bash -c "mkdir -p /run/netns /etc/netns && mount -t tmpfs -o mode=755 pn-netns /run/netns && mount -t tmpfs -o mode=755 pn-etcnetns /etc/netns && ip link set lo up && exec bash \"$@\"" isolate
    ${A_SCRIPT} ${CMAKE_BINARY_DIR})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "PN_BIN=${CMAKE_BINARY_DIR}/src/app/postern;PN_SRC=${CMAKE_SOURCE_DIR}")
  if(A_SERIAL)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
  pn_test_costs()
endfunction()

# pn_fuzzer(name SOURCES ... DEPS ... CORPUS dir): libFuzzer binary plus a
# short smoke run registered with label "fuzz" (PN_FUZZ_SECONDS, default 20).
function(pn_fuzzer name)
  cmake_parse_arguments(A "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  if(NOT DEFINED ENV{PN_FUZZ_SECONDS})
    set(secs 20)
  else()
    set(secs $ENV{PN_FUZZ_SECONDS})
  endif()
  set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  file(MAKE_DIRECTORY ${work})
  set(corpus_args ${work})
  if(A_CORPUS)
    list(APPEND corpus_args ${A_CORPUS})
  endif()
  add_test(NAME ${name} COMMAND ${name} -max_total_time=${secs} -rss_limit_mb=2048 -print_final_stats=1 ${corpus_args})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 600)
endfunction()
