# Install rules and the Debian packages (`make package`: CPack DEB, one package per component).
#   kiln-common   (all)  /usr/share/kiln: sql/, templates/, static/, pipelines/; the kiln system
#                        user and /etc/kiln/master.key are made by its postinst
#   kiln          (arch) /usr/bin/kiln: migrate, bootstrap and the command-line client
#   kiln-api      (arch) kiln-api, its systemd unit, /etc/kiln/kiln-api.env, the nginx site
#   kiln-dispatch (arch) kiln-dispatch: a --once service with its timer, and a --loop service
#   kiln-agent    (arch) kiln-agent and its unit; stands alone on a build node
# Configure with -DKILN_DATA_DIR=/usr/share/kiln so the binaries find the data where the
# packages put it; `make package` does (build-package/). The maintainer scripts are made from
# packaging/debian/*.in, one set per package.
set(KILN_PKG_SRC ${PROJECT_SOURCE_DIR}/packaging)
set(KILN_PKG_OUT ${PROJECT_BINARY_DIR}/packaging)
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# The build-node pipelines are ctemplate templates of shell scripts, read by kiln-dispatch and
# never run as they are: lintian's shell checks do not apply (packaging/lintian/kiln-common).
install(FILES ${KILN_PKG_SRC}/lintian/kiln-common DESTINATION share/lintian/overrides COMPONENT common)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sql ${PROJECT_SOURCE_DIR}/templates ${PROJECT_SOURCE_DIR}/static
                  ${PROJECT_SOURCE_DIR}/pipelines
        DESTINATION share/kiln COMPONENT common)

# Files Debian wants in every package: copyright, changelog (compressed), manual pages.
set(KILN_PKG_CHANGELOG_DATE "Sat, 21 Nov 2026 12:00:00 +0000")
configure_file(${KILN_PKG_SRC}/debian/changelog.in ${KILN_PKG_OUT}/changelog @ONLY)
function(kiln_gzip source target)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
  execute_process(COMMAND gzip -9nc ${source} OUTPUT_FILE ${target} COMMAND_ERROR_IS_FATAL ANY)
endfunction()
kiln_gzip(${KILN_PKG_OUT}/changelog ${KILN_PKG_OUT}/changelog.gz)
foreach(page kiln kiln-api kiln-dispatch kiln-agent)
  kiln_gzip(${KILN_PKG_SRC}/man/${page}.1 ${KILN_PKG_OUT}/${page}.1.gz)
endforeach()

# kiln_package(COMPONENT PACKAGE UNITS CONFFILES MASTER_KEY): doc files, maintainer scripts.
function(kiln_package component package units conffiles master_key)
  install(FILES ${KILN_PKG_SRC}/debian/copyright ${KILN_PKG_OUT}/changelog.gz
          DESTINATION share/doc/${package} COMPONENT ${component})
  set(KILN_PACKAGE ${package})
  set(KILN_UNITS "${units}")
  set(KILN_CONFFILES "${conffiles}")
  set(KILN_MASTER_KEY ${master_key})
  set(dir ${KILN_PKG_OUT}/${component})
  set(extra)
  foreach(script postinst prerm postrm)
    configure_file(${KILN_PKG_SRC}/debian/${script}.in ${dir}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
    list(APPEND extra ${dir}/${script})
  endforeach()
  if(conffiles)
    string(REPLACE " " "\n" lines "${conffiles}")
    file(WRITE ${dir}/conffiles "${lines}\n")
    list(APPEND extra ${dir}/conffiles)
  endif()
  string(TOUPPER ${component} up)
  set(CPACK_DEBIAN_${up}_PACKAGE_NAME ${package} PARENT_SCOPE)
  set(CPACK_DEBIAN_${up}_PACKAGE_CONTROL_EXTRA "${extra}" PARENT_SCOPE)
endfunction()

kiln_package(common kiln-common "" "" yes)
kiln_package(cli kiln "" "" no)
kiln_package(api kiln-api "kiln-api.service" "/etc/kiln/kiln-api.env /etc/nginx/sites-available/kiln" no)
kiln_package(dispatch kiln-dispatch "kiln-dispatch.timer kiln-dispatch.service kiln-dispatch-loop.service"
             "/etc/kiln/kiln-dispatch.env" no)
kiln_package(agent kiln-agent "kiln-agent.service" "/etc/kiln/kiln-agent.env" no)

# Absolute destinations: Debian's places for units and configuration, whatever the prefix.
install(FILES ${KILN_PKG_SRC}/systemd/kiln-api.service DESTINATION /lib/systemd/system COMPONENT api)
install(FILES ${KILN_PKG_SRC}/etc/kiln-api.env DESTINATION /etc/kiln COMPONENT api)
install(FILES ${KILN_PKG_SRC}/nginx/kiln DESTINATION /etc/nginx/sites-available COMPONENT api)
install(FILES ${KILN_PKG_SRC}/systemd/kiln-dispatch.service ${KILN_PKG_SRC}/systemd/kiln-dispatch.timer
              ${KILN_PKG_SRC}/systemd/kiln-dispatch-loop.service
        DESTINATION /lib/systemd/system COMPONENT dispatch)
install(FILES ${KILN_PKG_SRC}/etc/kiln-dispatch.env DESTINATION /etc/kiln COMPONENT dispatch)
install(FILES ${KILN_PKG_SRC}/systemd/kiln-agent.service DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${KILN_PKG_SRC}/etc/kiln-agent.env DESTINATION /etc/kiln COMPONENT agent)
install(FILES ${KILN_PKG_OUT}/kiln.1.gz DESTINATION share/man/man1 COMPONENT cli)
foreach(component api dispatch agent)
  install(FILES ${KILN_PKG_OUT}/kiln-${component}.1.gz DESTINATION share/man/man1 COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL common cli api dispatch agent)
set(CPACK_PACKAGE_NAME kiln)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Kiln maintainers <kiln@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(kiln_common_dep "kiln-common (= ${PROJECT_VERSION})")

set(CPACK_DEBIAN_COMMON_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_COMMON_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_COMMON_DESCRIPTION "build orchestration control plane - shared data
Kiln queues builds in PostgreSQL and runs them on Kubernetes (Tekton) or
on build nodes. This package holds what the other Kiln packages share:
the database migrations and functions, the admin page templates, the
static files nginx serves and the pipeline templates. It creates the
kiln system user and the master key that encrypts provider credentials.")
set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS "${kiln_common_dep}, adduser")
set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS "postgresql-client")
set(CPACK_DEBIAN_CLI_DESCRIPTION "build orchestration control plane - command-line tool
The kiln command applies the database migrations (kiln migrate),
creates the first administrator (kiln bootstrap) and talks to the
Kiln API.")
set(CPACK_DEBIAN_API_PACKAGE_DEPENDS "${kiln_common_dep}, adduser, nginx")
set(CPACK_DEBIAN_API_PACKAGE_RECOMMENDS "kiln (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_API_DESCRIPTION "build orchestration control plane - HTTP API and admin pages
kiln-api serves the Kiln API and the server-rendered admin pages over
FastCGI on a unix socket, behind nginx. The package ships its systemd
unit and an nginx site.")
set(CPACK_DEBIAN_DISPATCH_PACKAGE_DEPENDS "${kiln_common_dep}, adduser")
set(CPACK_DEBIAN_DISPATCH_DESCRIPTION "build orchestration control plane - dispatcher
kiln-dispatch claims queued builds and hands them to Kubernetes (Tekton)
or to build nodes. It runs from a systemd timer (one pass at a time) or
as a long-running loop.")
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_AGENT_DESCRIPTION "build orchestration control plane - build-node agent
kiln-agent runs on a build node: it asks the Kiln API for builds and
runs them as local processes with their resource limits, streaming
their logs back.")
include(CPack)
