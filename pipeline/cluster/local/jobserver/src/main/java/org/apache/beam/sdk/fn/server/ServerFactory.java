package org.apache.beam.sdk.fn.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.beam.model.pipeline.v1.Endpoints;
import org.apache.beam.sdk.fn.channel.SocketAddressFactory;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.BindableService;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ServerInterceptors;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.netty.NettyServerBuilder;

/**
 * Beam's gRPC server factory, with one difference: a server listens on the address it is given.
 *
 * <p>Beam 2.62's factory resolves the host of a service descriptor (or picks the loopback
 * address for an ephemeral port) but then calls {@code NettyServerBuilder.forPort(port)}, which
 * listens on every interface: the job server's job and artifact ports ({@code --job-host} is
 * ignored for binding) and, inside each Flink TaskManager, the Fn API control, data, state,
 * logging and provisioning servers that the SDK harness connects to. This replacement binds
 * exactly that address, so a local cluster is reachable from this machine only, and
 * {@code --job-host=0.0.0.0} still serves every interface where that is wanted.
 *
 * <p>It keeps the public API of the class it replaces (same package and name, same factory
 * methods), so the shaded job-server jar and the TaskManagers, which load Beam's classes from
 * that jar, use it everywhere.
 */
public abstract class ServerFactory {

  /** Clients may ping as often as every 20 s (what Beam's harness does) without being cut off. */
  private static final long KEEP_ALIVE_SECONDS = 20;

  public ServerFactory() {}

  public static ServerFactory createDefault() {
    return new InetSocketAddressServerFactory(UrlFactory.createDefault(), () -> 0);
  }

  public static ServerFactory createWithUrlFactory(UrlFactory urlFactory) {
    return new InetSocketAddressServerFactory(urlFactory, () -> 0);
  }

  public static ServerFactory createWithPortSupplier(Supplier<Integer> portSupplier) {
    return new InetSocketAddressServerFactory(UrlFactory.createDefault(), portSupplier);
  }

  public static ServerFactory createWithUrlFactoryAndPortSupplier(
      UrlFactory urlFactory, Supplier<Integer> portSupplier) {
    return new InetSocketAddressServerFactory(urlFactory, portSupplier);
  }

  /** Epoll is an optimisation only: the plain socket factory serves the same clients. */
  public static ServerFactory createEpollSocket() {
    return createDefault();
  }

  /** Unix domain sockets need netty-tcnative, which the job-server jar does not carry. */
  public static ServerFactory createEpollDomainSocket() {
    throw new UnsupportedOperationException(
        "this job server serves TCP only (no Unix domain sockets)");
  }

  /** A server on an ephemeral port of the loopback address; its URL goes into {@code builder}. */
  public abstract Server allocateAddressAndCreate(
      List<BindableService> services, Endpoints.ApiServiceDescriptor.Builder builder)
      throws IOException;

  /** A server on the host and port of {@code serviceDescriptor}'s URL. */
  public abstract Server create(
      List<BindableService> services, Endpoints.ApiServiceDescriptor serviceDescriptor)
      throws IOException;

  /** TCP servers bound to one address. */
  public static class InetSocketAddressServerFactory extends ServerFactory {
    private final UrlFactory urlFactory;
    private final Supplier<Integer> portSupplier;

    private InetSocketAddressServerFactory(UrlFactory urlFactory, Supplier<Integer> portSupplier) {
      this.urlFactory = urlFactory;
      this.portSupplier = portSupplier;
    }

    @Override
    public Server allocateAddressAndCreate(
        List<BindableService> services, Endpoints.ApiServiceDescriptor.Builder builder)
        throws IOException {
      InetSocketAddress address =
          new InetSocketAddress(InetAddress.getLoopbackAddress(), portSupplier.get());
      Server server = start(services, address);
      builder.setUrl(urlFactory.createUrl(address.getHostName(), server.getPort()));
      return server;
    }

    @Override
    public Server create(
        List<BindableService> services, Endpoints.ApiServiceDescriptor serviceDescriptor)
        throws IOException {
      SocketAddress address = SocketAddressFactory.createFrom(serviceDescriptor.getUrl());
      if (!(address instanceof InetSocketAddress)) {
        throw new IllegalArgumentException(
            "a host:port address is needed, got " + serviceDescriptor.getUrl());
      }
      return start(services, (InetSocketAddress) address);
    }

    private static Server start(List<BindableService> services, InetSocketAddress address)
        throws IOException {
      // forAddress, not forPort: the one change that matters (see the class comment).
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(address)
              // Message size is bounded by the layers above (element and bundle sizes).
              .maxInboundMessageSize(Integer.MAX_VALUE)
              .permitKeepAliveTime(KEEP_ALIVE_SECONDS, TimeUnit.SECONDS);
      for (BindableService service : services) {
        builder.addService(
            ServerInterceptors.intercept(service, GrpcContextHeaderAccessorProvider.interceptor()));
      }
      return builder.build().start();
    }
  }

  /** Turns the address a server listens on into the URL its clients are given. */
  @FunctionalInterface
  public interface UrlFactory {
    String createUrl(String address, int port);

    static UrlFactory createDefault() {
      // An IPv6 literal needs brackets, as in a URL.
      return (host, port) -> (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
  }
}
