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
DEB := $(TARGET_DIR)/atomicd_$(VERSION)_$(ARCH).deb
DEBFLAGS ?=

.PHONY: all build install test clippy demo deb

all: build

build:
	$(CARGO) build --profile $(PROFILE) --locked
	$(OUT)/atomic generate-files $(OUT)/generated

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

# A Debian package of what `make install` lays out (PREFIX=/usr), with the maintainer scripts
# of packaging/debian; built with dpkg-deb, files owned by root.
deb:
	rm -rf $(TARGET_DIR)/deb && mkdir -p $(TARGET_DIR)/deb/DEBIAN
	$(MAKE) install DESTDIR=$(abspath $(TARGET_DIR))/deb PREFIX=/usr UNITDIR=/lib/systemd/system
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(ARCH)/' \
		-e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(TARGET_DIR)/deb | cut -f1)/" \
		packaging/debian/control.in > $(TARGET_DIR)/deb/DEBIAN/control
	install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm $(TARGET_DIR)/deb/DEBIAN/
	dpkg-deb --root-owner-group $(DEBFLAGS) --build $(TARGET_DIR)/deb $(DEB)

test:
	tests/run.sh

clippy:
	$(CARGO) clippy --all-targets --locked -- -D warnings

demo:
	tests/demo.sh
