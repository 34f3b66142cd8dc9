// qmesh/queues/detail/wtsan_on.hpp: ends what wtsan_off.hpp began.
#ifdef QMESH_SILENCED_WTSAN
#pragma GCC diagnostic pop
#undef QMESH_SILENCED_WTSAN
#endif
