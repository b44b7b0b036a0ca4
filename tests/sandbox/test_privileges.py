"""no_new_privs, not-dumpable, and dropping root to nobody."""

from __future__ import annotations

import grp
import pwd

from nuvom.sandbox import unprivileged_ids
from tests.sandbox.conftest import as_layers, linux_only, root_only, run_child

pytestmark = linux_only

PRCTL = '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_GET_NO_NEW_PRIVS = 3, 4, 39
'''


def test_no_new_privs_reads_back_one():
    result = run_child(PRCTL, '''
        from nuvom.sandbox import no_new_privs
        before = libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
        layer = no_new_privs()
        done(layer=layer.to_dict(), before=before, after=libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0))
    ''')
    assert as_layers([result["layer"]])["no_new_privs"].enforced
    assert (result["before"], result["after"]) == (0, 1)


def test_not_dumpable_reads_back_zero():
    result = run_child(PRCTL, '''
        from nuvom.sandbox import set_not_dumpable
        before = libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
        layer = set_not_dumpable()
        done(layer=layer.to_dict(), before=before, after=libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    ''')
    assert as_layers([result["layer"]])["not_dumpable"].enforced
    assert (result["before"], result["after"]) == (1, 0)


def test_a_same_user_process_cannot_read_the_environ_of_a_non_dumpable_one():
    # The child plays the worker, holding a secret in its environment. As root it first
    # becomes nobody (root could read anything); its forked readers share its uid.
    result = run_child(PRCTL, '''
        from nuvom.sandbox import drop_to_user, set_not_dumpable, unprivileged_ids
        if os.geteuid() == 0:
            assert drop_to_user(*unprivileged_ids()).enforced
        worker = os.getpid()

        def read_environ_from_another_process():
            reading, writing = os.pipe()
            pid = os.fork()
            if pid == 0:
                def read():
                    with open(f"/proc/{worker}/environ", "rb") as environ:
                        assert b"NUVOM_TEST_SECRET=s3cret" in environ.read()
                os.write(writing, attempt(read).encode())
                os._exit(0)
            os.close(writing)
            outcome = os.read(reading, 100).decode()
            os.waitpid(pid, 0)
            return outcome

        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        dumpable = read_environ_from_another_process()
        layer = set_not_dumpable()
        done(layer=layer.to_dict(), uid=os.getuid(), dumpable=dumpable, not_dumpable=read_environ_from_another_process())
    ''', env={"NUVOM_TEST_SECRET": "s3cret"})
    assert as_layers([result["layer"]])["not_dumpable"].enforced
    assert result["uid"] != 0
    assert result["dumpable"] == "ok"
    assert result["not_dumpable"] == "EACCES"


@root_only
def test_root_drops_to_nobody_for_good():
    result = run_child(PRCTL, '''
        from nuvom.sandbox import drop_to_user
        os.setgroups([0, 65534])  # supplementary groups the drop must clear
        layer = drop_to_user(65534, 65534)
        done(layer=layer.to_dict(), uids=os.getresuid(), gids=os.getresgid(), groups=os.getgroups(),
             setuid_root=attempt(lambda: os.setuid(0)), dumpable=libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    ''')
    assert as_layers([result["layer"]])["drop_to_user"].enforced
    assert result["uids"] == [65534] * 3 and result["gids"] == [65534] * 3 and result["groups"] == []
    assert result["setuid_root"] == "EPERM"
    assert result["dumpable"] == 0  # a uid change resets dumpable to fs.suid_dumpable (0)


@root_only
def test_an_unprivileged_process_reports_what_it_cannot_change():
    result = run_child('''
        from nuvom.sandbox import drop_to_user
        drop_to_user(65534, 65534)
        done(same=drop_to_user(65534, 65534).to_dict(), other=drop_to_user(1000, 1000).to_dict())
    ''')
    same, other = as_layers([result["same"]])["drop_to_user"], as_layers([result["other"]])["drop_to_user"]
    assert same.enforced and same.detail == "already running as uid 65534 gid 65534"
    assert not other.enforced and other.detail.startswith("not root")


def test_unprivileged_ids_are_those_of_nobody():
    uid, gid = unprivileged_ids()
    try:
        assert uid == pwd.getpwnam("nobody").pw_uid
    except KeyError:
        assert uid == 65534
    group_ids = []
    for name in ("nogroup", "nobody"):
        try:
            group_ids.append(grp.getgrnam(name).gr_gid)
        except KeyError:
            pass
    assert gid == (group_ids[0] if group_ids else 65534)
