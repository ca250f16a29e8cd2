package Hydraulics "Connectors with flow variables and connect()"
  connector Port "pressure and volume flow into the component"
    Real p(unit = "Pa") "pressure";
    flow Real q(unit = "m3/s") "volume flow into the component";
  end Port;

  model Volume "compliant volume: pressure from stored volume"
    parameter Real C(unit = "m3/Pa") = 1e-6 "compliance";
    parameter Real p0(unit = "Pa") = 1e5 "initial pressure";
    Port port;
  initial equation
    port.p = p0;
  equation
    C * der(port.p) = port.q;
  end Volume;

  model Restriction "laminar restriction between two ports"
    parameter Real R(unit = "Pa.s/m3") = 1e6 "resistance";
    Port a;
    Port b;
  equation
    a.q + b.q = 0;
    a.p - b.p = R * a.q;
  end Restriction;

  model Circuit "three volumes in a chain, two restrictions"
    Volume v1(p0 = 2e5);
    Volume v2(C = 2e-6);
    Volume v3(p0 = 0.5e5);
    Restriction r1;
    Restriction r2(R = 2e6);
    output Real p_mid(unit = "Pa") = v2.port.p "middle pressure";
  equation
    connect(v1.port, r1.a);
    connect(r1.b, v2.port);
    connect(v2.port, r2.a);
    connect(r2.b, v3.port);
  end Circuit;
end Hydraulics;
