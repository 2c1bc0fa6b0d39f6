// k-means assignment, scalar reference (definition in kmeans.h).
#include <cmath>
#include <vector>

#include "../runtime/kernels.h"
#include "kmeans.h"

namespace tz::scalar {

void kmeans_assign(const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels) {
  std::vector<float> m(c.v);
  for (size_t i = 0; i < n; ++i) {
    for (unsigned d = 0; d < c.v; ++d) m[d] = -2.0f * x[i * c.v + d];
    float best = INFINITY;
    uint32_t label = 0;
    for (unsigned j = 0; j < c.k; ++j) {
      const float dist = kmeans_distance(m.data(), c.c.data() + size_t(j) * c.v, c.v, c.norms[j]);
      if (dist < best) {
        best = dist;
        label = j;
      }
    }
    labels[i] = label;
  }
}

}  // namespace tz::scalar
