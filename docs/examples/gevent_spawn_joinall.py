"""gevent switches greenlets for you whenever one waits: here, in gevent.sleep()."""

import gevent


def watermelon():
    print("watermelon: start eating")
    gevent.sleep(0.2)  # cooperative: the hub runs mango() meanwhile
    print("watermelon: back after 0.2 s")


def mango():
    print("mango: start eating")
    gevent.sleep(0.1)
    print("mango: back after 0.1 s")


gevent.joinall([gevent.spawn(watermelon), gevent.spawn(mango)])
