# Build, install and test atomicd. `make install DESTDIR=... PREFIX=...` lays files out as a
# distribution package would; the binary paths inside the unit and the bus activation file
# follow PREFIX.
PREFIX ?= /usr
DESTDIR ?=
LIBEXECDIR ?= $(PREFIX)/libexec
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
UNITDIR ?= $(PREFIX)/lib/systemd/system
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog
CARGO ?= cargo
PROFILE ?= release
TARGET_DIR ?= target
OUT := $(TARGET_DIR)/$(if $(filter dev test,$(PROFILE)),debug,$(PROFILE))

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEBFLAGS ?=
PAGE := cockpit/atomic
PF := cockpit/node_modules/@patternfly/patternfly

.PHONY: all build install test clippy demo deb cockpit

all: build

build: cockpit
	$(CARGO) build --profile $(PROFILE) --locked
	$(OUT)/atomic generate-files $(OUT)/generated

# The Cockpit page's stylesheet and fonts, PatternFly's from npm: the one build step that needs
# the network, and only while package-lock.json is newer than what it copied.
cockpit: $(PAGE)/patternfly/patternfly.min.css

$(PAGE)/patternfly/patternfly.min.css: cockpit/package-lock.json
	cd cockpit && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(PAGE)/patternfly && mkdir -p $(PAGE)/patternfly/assets
	cp -r $(PF)/assets/fonts $(PF)/assets/pficon $(PAGE)/patternfly/assets/
	cp $(PF)/patternfly.min.css $(PAGE)/patternfly/

install:
	@test -x $(OUT)/atomicd || { echo "run 'make build' first"; exit 1; }
	install -D -m 0755 $(OUT)/atomicd $(DESTDIR)$(LIBEXECDIR)/atomicd
	install -D -m 0755 $(OUT)/atomicd-ostree $(DESTDIR)$(LIBEXECDIR)/atomicd-ostree
	install -D -m 0755 $(OUT)/atomic $(DESTDIR)$(BINDIR)/atomic
	@test -f $(OUT)/generated/atomic.1 || { echo "run 'make build' first"; exit 1; }
	install -D -m 0644 $(OUT)/generated/atomic.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/atomic
	install -D -m 0644 $(OUT)/generated/_atomic $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_atomic
	install -D -m 0644 $(OUT)/generated/atomic.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/atomic.fish
	install -D -m 0644 $(OUT)/generated/atomic.1 $(DESTDIR)$(DATADIR)/man/man1/atomic.1
	install -D -m 0644 dbus/org.atomic.conf $(DESTDIR)$(DATADIR)/dbus-1/system.d/org.atomic.conf
	install -D -m 0644 dbus/org.atomic.Manager.xml $(DESTDIR)$(DATADIR)/dbus-1/interfaces/org.atomic.Manager.xml
	install -D -m 0644 polkit/org.atomic.policy $(DESTDIR)$(DATADIR)/polkit-1/actions/org.atomic.policy
	install -D -m 0644 systemd/atomicd.catalog $(DESTDIR)$(CATALOGDIR)/atomicd.catalog
	install -d $(DESTDIR)$(DATADIR)/dbus-1/system-services $(DESTDIR)$(UNITDIR)
	sed 's|/usr/libexec/atomicd|$(LIBEXECDIR)/atomicd|' dbus/org.atomic.service \
		> $(DESTDIR)$(DATADIR)/dbus-1/system-services/org.atomic.service
	sed 's|/usr/libexec/atomicd|$(LIBEXECDIR)/atomicd|' systemd/atomicd.service \
		> $(DESTDIR)$(UNITDIR)/atomicd.service
	chmod 0644 $(DESTDIR)$(DATADIR)/dbus-1/system-services/org.atomic.service $(DESTDIR)$(UNITDIR)/atomicd.service
	@test -f $(PAGE)/patternfly/patternfly.min.css || { echo "run 'make build' (or 'make cockpit') first"; exit 1; }
	install -d $(DESTDIR)$(DATADIR)/cockpit/atomic
	cp -r $(PAGE)/. $(DESTDIR)$(DATADIR)/cockpit/atomic/
	sed 's|/usr/share/dbus-1|$(DATADIR)/dbus-1|' $(PAGE)/manifest.json > $(DESTDIR)$(DATADIR)/cockpit/atomic/manifest.json
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/cockpit/atomic

# The Debian package, built as a Debian maintainer builds one: dpkg-buildpackage with debhelper
# (debian/), which installs through `make install` above; the .deb, .buildinfo and .changes go
# to $(TARGET_DIR), not to the parent directory.
deb:
	ATOMICD_PROFILE=$(PROFILE) ATOMICD_TARGET_DIR=$(abspath $(TARGET_DIR)) \
	ATOMICD_DEB_DIR=$(abspath $(TARGET_DIR)) ATOMICD_DEBFLAGS="$(DEBFLAGS)" \
		dpkg-buildpackage -b -us -uc \
		--buildinfo-option=-u$(abspath $(TARGET_DIR)) --changes-option=-u$(abspath $(TARGET_DIR)) \
		--buildinfo-file=$(abspath $(TARGET_DIR))/atomicd_$(VERSION)_$(ARCH).buildinfo \
		--changes-file=$(abspath $(TARGET_DIR))/atomicd_$(VERSION)_$(ARCH).changes

test:
	tests/run.sh

clippy:
	$(CARGO) clippy --all-targets --locked -- -D warnings

demo:
	tests/demo.sh
